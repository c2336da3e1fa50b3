package e2e

// tus 1.0 (/api/v0/tus/) driven by a client that is not ours:
// tus-js-client under Node (e2e/tusjs: upload.mjs, its version pinned in
// package-lock.json, installed by ./scripts/test with npm ci). Between the
// client and each server sits a counting reverse proxy (tusProxy), so that
// what a resumed upload sends is measured on the wire, not taken from the
// client's word.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/testenv"
)

// tusChunk is the chunk size the resume tests give tus-js-client: one
// PATCH each.
const tusChunk = 4 << 20

// tusNode returns the node binary and the absolute path of e2e/tusjs, whose
// node_modules npm ci made; without either the test is skipped, or fails in
// CI (testenv.Unavailable).
func tusNode(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "node not found: the tus-js-client tests need Node.js (./scripts/test installs Debian's nodejs and npm)")
	}
	dir, err = filepath.Abs("tusjs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "tus-js-client", "package.json")); err != nil {
		testenv.Unavailable(t, "e2e/tusjs/node_modules has no tus-js-client: run `npm ci` in e2e/tusjs (./scripts/test does)")
	}
	return node, dir
}

// tusEvent is one line upload.mjs prints (see its header).
type tusEvent struct {
	Event      string `json:"event"`
	URL        string `json:"url,omitempty"`
	Offset     *int64 `json:"offset,omitempty"`
	Sent       int64  `json:"sent,omitempty"`
	Total      int64  `json:"total,omitempty"`
	Method     string `json:"method,omitempty"`
	HTTPStatus int    `json:"httpStatus,omitempty"`
	FileID     string `json:"fileId,omitempty"`
	FileStatus string `json:"fileStatus,omitempty"`
	HeadFileID string `json:"headFileId,omitempty"`
	HeadOffset int64  `json:"headOffset,omitempty"`
	Message    string `json:"message,omitempty"`
	Body       string `json:"body,omitempty"`
}

// tusJS is one run of upload.mjs.
type tusJS struct {
	cmd    *exec.Cmd
	events chan tusEvent // closed when its stdout ends
	stderr *lockedBuffer
	mu     sync.Mutex
	seen   []tusEvent
	done   chan struct{}
	err    error // cmd.Wait's, once done is closed
}

// startTusJS runs node upload.mjs with args; it is killed when t ends.
func startTusJS(t *testing.T, args ...string) *tusJS {
	t.Helper()
	node, dir := tusNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, node, append([]string{"upload.mjs"}, args...)...)
	cmd.Dir = dir
	r := &tusJS{cmd: cmd, events: make(chan tusEvent, 1024), stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = r.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ev tusEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = tusEvent{Event: "unparsed", Message: sc.Text()}
			}
			r.mu.Lock()
			r.seen = append(r.seen, ev)
			r.mu.Unlock()
			r.events <- ev
		}
		close(r.events)
		r.err = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		for range r.events {
		}
		<-r.done
		cancel()
	})
	return r
}

// kill ends the client as a crash would (SIGKILL), and waits for it.
func (r *tusJS) kill() {
	r.cmd.Process.Kill()
	for range r.events {
	}
	<-r.done
}

// end waits for the client to end, and returns its last success or
// error event.
func (r *tusJS) end() tusEvent {
	var last tusEvent
	for ev := range r.events {
		if ev.Event == "success" || ev.Event == "error" {
			last = ev
		}
	}
	<-r.done
	return last
}

// finish waits for the client to end, and returns its success event; a
// run that did not succeed fails t.
func (r *tusJS) finish(t *testing.T) tusEvent {
	t.Helper()
	last := r.end()
	if r.err != nil || last.Event != "success" {
		t.Fatalf("tus-js-client did not succeed (%v): %+v\nstderr: %s\nevents: %s", r.err, last, r.stderr.String(), r.describe())
	}
	return last
}

// failure waits for the client to end, and returns its error event; a run
// that succeeded fails t.
func (r *tusJS) failure(t *testing.T) tusEvent {
	t.Helper()
	last := r.end()
	if r.err == nil || last.Event != "error" {
		t.Fatalf("tus-js-client did not fail (%v): %+v\nevents: %s", r.err, last, r.describe())
	}
	return last
}

// find returns the events named name, in order.
func (r *tusJS) find(name string) []tusEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []tusEvent
	for _, ev := range r.seen {
		if ev.Event == name {
			out = append(out, ev)
		}
	}
	return out
}

// answers is the client's requests and their answers, in order: "POST
// 201, PATCH 204, ...".
func (r *tusJS) answers() string {
	var out []string
	for _, ev := range r.find("response") {
		out = append(out, ev.Method+" "+strconv.Itoa(ev.HTTPStatus))
	}
	return strings.Join(out, ", ")
}

// describe is every event but progress, for failure messages.
func (r *tusJS) describe() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, ev := range r.seen {
		if ev.Event != "progress" {
			j, _ := json.Marshal(ev)
			b.Write(j)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// tusProxy is a reverse proxy in front of one server that counts what
// passes: the body bytes of PATCH requests (as read from the client, so
// as sent to the server) and the requests by method. With rate set, PATCH
// bodies go at most that many bytes a second, so that a test can stop a
// client midway; with down set, they are cut off where they are, as a
// network that fails would.
type tusProxy struct {
	URL      string
	patched  atomic.Int64
	rate     atomic.Int64
	down     atomic.Bool
	inflight atomic.Int64
	mu       sync.Mutex
	methods  map[string]int
}

func newTusProxy(t *testing.T, target string) *tusProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &tusProxy{methods: map[string]int{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // the server's Location names the proxy
		},
		ErrorLog: log.New(io.Discard, "", 0), // a killed client's request ends in an error
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.inflight.Add(1)
		defer p.inflight.Add(-1)
		p.mu.Lock()
		p.methods[r.Method]++
		p.mu.Unlock()
		if r.Method == http.MethodPatch && r.Body != nil {
			r.Body = &countingBody{ReadCloser: r.Body, p: p, start: time.Now()}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// counts returns the PATCH bytes and requests by method since the last
// call, and starts counting anew.
func (p *tusProxy) counts() (patched int64, methods map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	methods, p.methods = p.methods, map[string]int{}
	return p.patched.Swap(0), methods
}

// seen returns how many requests of method have passed since counts.
func (p *tusProxy) seen(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.methods[method]
}

// idle waits until no request is passing through the proxy.
func (p *tusProxy) idle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.inflight.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a request through the proxy did not end within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type countingBody struct {
	io.ReadCloser
	p     *tusProxy
	start time.Time
	n     int64
}

var errProxyDown = errors.New("tusProxy: the network is down")

func (b *countingBody) Read(buf []byte) (int, error) {
	if b.p.down.Load() {
		return 0, errProxyDown
	}
	if len(buf) > 64<<10 {
		buf = buf[:64<<10]
	}
	n, err := b.ReadCloser.Read(buf)
	b.n += int64(n)
	b.p.patched.Add(int64(n))
	pace(b.start, b.n, b.p.rate.Load())
	return n, err
}

// pace sleeps until n bytes read since start come no faster than rate bytes
// a second (no limit when rate is 0): the throttle of the tests' proxies.
func pace(start time.Time, n, rate int64) {
	if rate > 0 {
		time.Sleep(time.Until(start.Add(time.Duration(float64(n) / float64(rate) * float64(time.Second)))))
	}
}

// tusHead HEADs the upload at uploadURL and returns its offset and the
// fileId of its metadata.
func tusHead(t *testing.T, uploadURL, key string) (offset int64, fileID string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodHead, uploadURL, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Tus-Resumable", "1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD %s: %s", uploadURL, resp.Status)
	}
	offset, err = strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		t.Fatalf("HEAD %s: Upload-Offset %q", uploadURL, resp.Header.Get("Upload-Offset"))
	}
	for _, kv := range strings.Split(resp.Header.Get("Upload-Metadata"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), " ")
		if k == "fileId" {
			b, _ := base64.StdEncoding.DecodeString(v)
			fileID = string(b)
		}
	}
	return offset, fileID
}

// serverPatches returns how many PATCH requests srv has ended (its log
// has a line for each), and how many body bytes they read (bytes_in).
func serverPatches(srv *serverProc) (n int, bytesIn int64) {
	for _, line := range strings.Split(srv.log.String(), "\n") {
		if !strings.Contains(line, "msg=request method=PATCH ") {
			continue
		}
		n++
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "bytes_in="); ok {
				b, _ := strconv.ParseInt(v, 10, 64)
				bytesIn += b
			}
		}
	}
	return n, bytesIn
}

// onServer is uploadURL (a proxy's) with srv's scheme and host.
func onServer(t *testing.T, uploadURL, srv string) string {
	t.Helper()
	u, err := url.Parse(uploadURL)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := url.Parse(srv)
	u.Scheme, u.Host = s.Scheme, s.Host
	return u.String()
}

// checkTusFile checks through srv's v0 API that file id is uploaded, of
// size bytes hashing to hash, and that its content downloads as such.
func checkTusFile(t *testing.T, srv, key, id string, size int64, hash string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv+"/api/v0/file/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var f perseus.File
	err = json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/v0/file/%s: %s, %v", id, resp.Status, err)
	}
	if f.Status != perseus.StatusUploaded || f.SourceHash != hash || f.Size != size {
		t.Fatalf("file %s = %+v, want uploaded, sourceHash %s, size %d", id, f, hash, size)
	}
	c, _ := sdk(t, srv, key)
	h := sha256.New()
	n, err := c.File.DownloadFile(context.Background(), id, h)
	if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != hash {
		t.Fatalf("download of %s: %d bytes hashing to %x, %v; want %d bytes hashing to %s", id, n, h.Sum(nil), err, size, hash)
	}
}

// tusBackends runs test against the embedded default and against a
// server on PostgreSQL and S3.
func tusBackends(t *testing.T, test func(t *testing.T, srv *serverProc, key string)) {
	t.Run("embedded", func(t *testing.T) {
		srv := startServer(t, t.TempDir())
		test(t, srv, srv.Key)
	})
	t.Run("postgres+s3", func(t *testing.T) {
		srv := startServer(t, t.TempDir(), "--db", freshSchema(t), "--blobs", testenv.S3URL(t, "tusjs"), "--api-key", "tus-key")
		test(t, srv, "tus-key")
	})
}

// tusKilled runs tus-js-client through p until the proxy has passed
// half a chunk past half of the file at path to the server, and stops it
// there: the network fails (the proxy cuts the PATCH under way) and the
// client is killed (SIGKILL). Killing alone would not cut the PATCH on
// loopback: the kernel still delivers what the client had written to its
// socket, which tus-js-client fills with a whole chunk. It waits until
// srv has ended every PATCH it was sent (its log has their lines), so
// that no byte of them is still on its way into the upload. It returns the upload's URL (the proxy's), how far the client's progress
// had gone and the offset of the last chunk the server acknowledged.
func tusKilled(t *testing.T, srv *serverProc, p *tusProxy, size int64, args ...string) (uploadURL string, progress, acked int64) {
	t.Helper()
	run := startTusJS(t, args...)
	var mu sync.Mutex
	ended := make(chan tusEvent, 1)
	go func() {
		for ev := range run.events {
			mu.Lock()
			switch ev.Event {
			case "url":
				uploadURL = ev.URL
			case "progress":
				progress = ev.Sent
			case "chunk":
				acked = *ev.Offset
			case "success", "error":
				ended <- ev
			}
			mu.Unlock()
		}
		close(ended)
	}()
	target := size/2 + tusChunk/2
	deadline := time.After(time.Minute)
	for p.patched.Load() < target {
		select {
		case ev := <-ended:
			<-run.done
			t.Fatalf("tus-js-client ended (%+v, %v) before it was killed, %d bytes through the proxy:\n%s%s",
				ev, run.err, p.patched.Load(), run.describe(), run.stderr.String())
		case <-deadline:
			t.Fatalf("%d bytes through the proxy after a minute:\n%s", p.patched.Load(), run.describe())
		case <-time.After(2 * time.Millisecond):
		}
	}
	p.down.Store(true)
	run.kill()
	p.idle(t) // the request cut off has reached the server, as far as it went
	p.down.Store(false)
	patches := p.seen(http.MethodPatch)
	for n, _ := serverPatches(srv); n < patches; n, _ = serverPatches(srv) {
		select {
		case <-deadline:
			t.Fatalf("the server has not ended the %d PATCHes it was sent after a minute:\n%s", patches, srv.log.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	for range ended {
	}
	mu.Lock()
	defer mu.Unlock()
	if uploadURL == "" {
		t.Fatalf("tus-js-client was killed before it reported the upload's URL:\n%s", run.describe())
	}
	return uploadURL, progress, acked
}

// TestTusJSResumesAfterKill: tus-js-client uploads a file of 48 MiB in
// chunks of 4 MiB and is stopped midway through a PATCH past half of it
// (the network cut, the process killed: tusKilled); the server keeps the
// bytes of that PATCH that reached it, so its offset is inside a chunk. A
// second run of the client, finding the upload in its URL storage,
// resumes it from that offset (its HEAD's), not from 0 nor from a chunk
// boundary of its own, and sends the rest only (counted by the proxy);
// the file ends uploaded, its sourceHash the file's SHA-256, its content
// the same bytes.
func TestTusJSResumesAfterKill(t *testing.T) {
	tusNode(t)
	tusBackends(t, func(t *testing.T, srv *serverProc, key string) {
		dir := t.TempDir()
		const size = 48<<20 + 12345
		path, hash := writeRandom(t, dir, "resumed.bin", size)
		p := newTusProxy(t, srv.URL)
		args := []string{"--endpoint", p.URL + "/api/v0/tus/", "--key", key, "--file", path,
			"--store", filepath.Join(dir, "tus-urls.json"), "--chunk-size", strconv.Itoa(tusChunk)}

		start := time.Now()
		p.rate.Store(32 << 20) // ~1.5 s for the file: time to stop it midway
		uploadURL, progress, acked := tusKilled(t, srv, p, size, args...)
		firstBytes, firstMethods := p.counts()
		_, firstIn := serverPatches(srv)
		offset, fileID := tusHead(t, onServer(t, uploadURL, srv.URL), key)
		if offset <= acked || offset >= size {
			t.Fatalf("after the kill the server holds %d of %d bytes, want more than the %d it acknowledged (some of the PATCH cut off) and less than all", offset, size, acked)
		}
		killed := time.Since(start)

		p.rate.Store(0)
		start = time.Now()
		run := startTusJS(t, args...)
		done := run.finish(t)
		resumed := time.Since(start)
		secondBytes, secondMethods := p.counts()
		_, allIn := serverPatches(srv)
		secondIn := allIn - firstIn

		if prev := run.find("previous"); len(prev) != 1 || prev[0].URL != uploadURL {
			t.Fatalf("the second run did not find the upload %s in its URL storage: %+v", uploadURL, prev)
		}
		if heads := run.find("resume"); len(heads) == 0 || *heads[0].Offset != offset {
			t.Fatalf("the second run's HEAD said %+v; the server held %d", heads, offset)
		}
		if secondMethods[http.MethodPost] != 0 {
			t.Fatalf("the second run created a new upload: %v", secondMethods)
		}
		if secondBytes != size-offset || secondIn != size-offset {
			t.Fatalf("the second run sent %d bytes, and the server read %d; resuming from %d of %d it should be %d", secondBytes, secondIn, offset, size, size-offset)
		}
		if done.URL != uploadURL || done.FileStatus != "uploaded" || done.FileID != fileID || done.HeadFileID != fileID || done.HeadOffset != size {
			t.Fatalf("the second run ended with %+v; want upload %s, file %s, uploaded, offset %d", done, uploadURL, fileID, size)
		}
		checkTusFile(t, srv.URL, key, fileID, size, hash)
		t.Logf("%d bytes in chunks of %d: killed with %d PATCH bytes through the proxy (%.0f%%; the client's progress %d, last chunk acknowledged at %d; %v, %v); "+
			"the server read %d and held %d (%.2f chunks); the resume sent %d bytes (= %d - %d; the server read %d) in %d PATCHes, %v (%v)",
			size, tusChunk, firstBytes, 100*float64(firstBytes)/size, progress, acked, firstMethods, killed.Round(time.Millisecond),
			firstIn, offset, float64(offset)/tusChunk, secondBytes, size, offset, secondIn, secondMethods[http.MethodPatch], secondMethods, resumed.Round(time.Millisecond))
	})
}

// TestTusJSResumesOnAnotherReplica: two replicas on one PostgreSQL and one
// S3 bucket; tus-js-client begins an upload on replica A and is killed
// midway; a second run, given the upload's URL with B's host, resumes it
// on B from the offset A left, sends the rest only, and the file is
// uploaded as both replicas see it.
func TestTusJSResumesOnAnotherReplica(t *testing.T) {
	tusNode(t)
	flags := []string{"--db", freshSchema(t), "--blobs", testenv.S3URL(t, "tusjs-replicas"), "--api-key", "replica-key"}
	a := startServer(t, t.TempDir(), flags...)
	b := startServer(t, t.TempDir(), flags...)
	pa, pb := newTusProxy(t, a.URL), newTusProxy(t, b.URL)
	dir := t.TempDir()
	const size = 40<<20 + 777
	path, hash := writeRandom(t, dir, "replicas.bin", size)

	pa.rate.Store(32 << 20)
	uploadURL, _, acked := tusKilled(t, a, pa, size, "--endpoint", pa.URL+"/api/v0/tus/", "--key", "replica-key", "--file", path,
		"--chunk-size", strconv.Itoa(tusChunk))
	toA, _ := pa.counts()
	offset, fileID := tusHead(t, onServer(t, uploadURL, b.URL), "replica-key") // B sees what A took
	if offset <= acked || offset >= size {
		t.Fatalf("after the kill replica B sees %d of %d bytes, want more than the %d A acknowledged and less than all", offset, size, acked)
	}

	onB := strings.Replace(uploadURL, pa.URL, pb.URL, 1)
	run := startTusJS(t, "--upload-url", onB, "--key", "replica-key", "--file", path, "--chunk-size", strconv.Itoa(tusChunk))
	done := run.finish(t)
	bBytes, bMethods := pb.counts()
	aBytes, aMethods := pa.counts()
	_, bIn := serverPatches(b)
	if heads := run.find("resume"); len(heads) == 0 || *heads[0].Offset != offset {
		t.Fatalf("the run on B began with %+v; B held %d", heads, offset)
	}
	if aBytes != 0 || len(aMethods) != 0 || bMethods[http.MethodPost] != 0 || bBytes != size-offset || bIn != size-offset {
		t.Fatalf("the resume sent %d bytes to B (%v; B read %d) and %d to A (%v); want %d to B, resuming from %d, and none to A",
			bBytes, bMethods, bIn, aBytes, aMethods, size-offset, offset)
	}
	if done.FileStatus != "uploaded" || done.FileID != fileID || done.HeadFileID != fileID {
		t.Fatalf("the run on B ended with %+v; want file %s uploaded", done, fileID)
	}
	checkTusFile(t, b.URL, "replica-key", fileID, size, hash)
	checkTusFile(t, a.URL, "replica-key", fileID, size, hash)
	t.Logf("%d bytes in chunks of %d: cut off and killed with %d PATCH bytes sent to A (last chunk acknowledged at %d); "+
		"B saw %d (%.2f chunks); the resume on B sent %d bytes (= %d - %d) in %d PATCHes, A none",
		size, tusChunk, toA, acked, offset, float64(offset)/tusChunk, bBytes, size, offset, bMethods[http.MethodPatch])
}

// TestTusJSAndSDKMakeOneFile: one content, one file, whichever way it came.
// A file uploaded with the Go SDK, then the same content with
// tus-js-client (all of its bytes, and again declaring its sha256, which
// the server answers at creation), ends as the SDK's file; a file uploaded
// with tus-js-client, then with the SDK, is the tus upload's file, and the
// SDK sends no byte of it. Finding by sourceHash returns one file each
// time.
func TestTusJSAndSDKMakeOneFile(t *testing.T) {
	tusNode(t)
	tusBackends(t, func(t *testing.T, srv *serverProc, key string) {
		ctx := context.Background()
		dir := t.TempDir()
		c, puts := sdk(t, srv.URL, key)
		p := newTusProxy(t, srv.URL)
		tus := func(path string, extra ...string) (*tusJS, tusEvent) {
			run := startTusJS(t, append([]string{"--endpoint", p.URL + "/api/v0/tus/", "--key", key, "--file", path,
				"--chunk-size", strconv.Itoa(1 << 20)}, extra...)...)
			return run, run.finish(t)
		}
		one := func(hash, id string) {
			t.Helper()
			found, err := c.File.FindFiles(ctx, perseus.FindQuery{SourceHashes: []string{hash}})
			if err != nil || len(found) != 1 || found[0].ID != id || found[0].Status != perseus.StatusUploaded {
				t.Fatalf("find by sourceHash %s = %+v, %v; want file %s alone", hash, found, err, id)
			}
		}

		// The SDK first, then tus-js-client.
		const size1 = 3<<20 + 5
		path1, hash1 := writeRandom(t, dir, "sdk-first.bin", size1)
		f, err := c.File.UploadFile(ctx, path1)
		if err == nil && f.Status == perseus.StatusPending { // a direct upload to S3 is verified after
			f, err = c.File.WaitForFileUpload(ctx, f.ID, perseus.WithTimeout(30*time.Second))
		}
		if err != nil || f.Status != perseus.StatusUploaded {
			t.Fatalf("SDK upload = %+v, %v", f, err)
		}
		p.counts()
		run, done := tus(path1)
		sent, _ := p.counts()
		if done.FileID != f.ID || done.HeadFileID != f.ID || done.FileStatus != "uploaded" {
			t.Fatalf("tus-js-client after the SDK ended as %+v; want the SDK's file %s", done, f.ID)
		}
		if sent != size1 {
			t.Fatalf("tus-js-client sent %d bytes, want all %d (it declared no hash)", sent, size1)
		}
		one(hash1, f.ID)

		// Again, declaring the hash: the server answers at creation that
		// the content is there. tus-js-client takes no Upload-Offset from a
		// creation without data, so it PATCHes from 0, is told 409, HEADs
		// (its retry) and sees the upload whole.
		run, done = tus(path1, "--sha256", hash1)
		sent, _ = p.counts()
		if done.FileID != f.ID || done.HeadFileID != f.ID {
			t.Fatalf("tus-js-client declaring the hash ended as %+v; want the SDK's file %s", done, f.ID)
		}
		t.Logf("known content, hash declared: tus-js-client's requests %s (%d PATCH bytes sent before the 409)", run.answers(), sent)
		// With uploadDataDuringCreation it reads the creation's
		// Upload-Offset and is done at once.
		run, done = tus(path1, "--sha256", hash1, "--data-during-creation")
		_, methods := p.counts()
		if done.FileID != f.ID || done.HeadFileID != f.ID || methods[http.MethodPatch] != 0 {
			t.Fatalf("tus-js-client with data during creation ended as %+v after %v; want the SDK's file %s and no PATCH", done, methods, f.ID)
		}
		t.Logf("known content, hash declared, data during creation: tus-js-client's requests %s", run.answers())
		one(hash1, f.ID)

		// tus-js-client first, then the SDK.
		const size2 = 2<<20 + 9
		path2, hash2 := writeRandom(t, dir, "tus-first.bin", size2)
		_, done = tus(path2)
		if done.FileStatus != "uploaded" || done.FileID == "" || done.HeadFileID != done.FileID {
			t.Fatalf("tus-js-client upload ended as %+v", done)
		}
		puts.n.Store(0)
		g, err := c.File.UploadFile(ctx, path2) // the server has it uploaded: no wait
		if err != nil || g.ID != done.FileID || g.Status != perseus.StatusUploaded {
			t.Fatalf("SDK upload after tus-js-client = %+v, %v; want the tus upload's file %s", g, err, done.FileID)
		}
		if puts.n.Load() != 0 {
			t.Fatalf("the SDK sent %d PUTs for content the server had from tus", puts.n.Load())
		}
		one(hash2, g.ID)
		checkTusFile(t, srv.URL, key, g.ID, size2, hash2)
	})
}

// TestTusJSChecksum: tus-js-client has no checksum extension of its own
// (4.x sends no Upload-Checksum); upload.mjs adds the header in its
// onBeforeRequest hook, computed over each chunk. Right sums (sha1, md5)
// end uploaded; a wrong one (sha256) is refused, 460, and the server
// keeps none of that chunk.
func TestTusJSChecksum(t *testing.T) {
	tusNode(t)
	tusBackends(t, func(t *testing.T, srv *serverProc, key string) {
		dir := t.TempDir()
		const size = 3<<20 + 3
		path, hash := writeRandom(t, dir, "checked.bin", size)
		p := newTusProxy(t, srv.URL)
		args := []string{"--endpoint", p.URL + "/api/v0/tus/", "--key", key, "--file", path, "--chunk-size", strconv.Itoa(1 << 20)}

		bad := startTusJS(t, append(args, "--checksum", "sha256", "--bad-checksum")...)
		failed := bad.failure(t)
		if failed.HTTPStatus != 460 || !strings.Contains(failed.Body, "checksum_mismatch") {
			t.Fatalf("a wrong Upload-Checksum was answered %d %s; want 460 checksum_mismatch", failed.HTTPStatus, failed.Body)
		}
		urls := bad.find("url")
		if len(urls) != 1 {
			t.Fatalf("the refused upload's URL: %+v", urls)
		}
		if off, _ := tusHead(t, onServer(t, urls[0].URL, srv.URL), key); off != 0 {
			t.Fatalf("the server kept %d bytes of a chunk whose checksum was wrong", off)
		}

		for _, algo := range []string{"sha1", "md5"} {
			run := startTusJS(t, append(args, "--checksum", algo, "--name", algo+".bin")...)
			done := run.finish(t)
			if done.FileStatus != "uploaded" {
				t.Fatalf("with Upload-Checksum %s: %+v", algo, done)
			}
			for _, r := range run.find("response") {
				if r.Method == http.MethodPatch && r.HTTPStatus != http.StatusNoContent {
					t.Fatalf("with Upload-Checksum %s a PATCH was answered %d", algo, r.HTTPStatus)
				}
			}
			checkTusFile(t, srv.URL, key, done.FileID, size, hash)
		}
	})
}
