package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob"
)

// The local store takes resumable uploads; so does its wrapper.
var _ blob.Appender = (*faultyBlobs)(nil)

func (f *faultyBlobs) app() blob.Appender { return f.Store.(blob.Appender) }

func (f *faultyBlobs) Append(ctx context.Context, id string, off, size int64) (blob.AppendWriter, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.app().Append(ctx, id, off, size)
}

func (f *faultyBlobs) Appended(ctx context.Context, id string) (int64, []byte, error) {
	if f.down.Load() {
		return 0, nil, errDown
	}
	return f.app().Appended(ctx, id)
}

func (f *faultyBlobs) CommitAppended(ctx context.Context, id, key string, state []byte) error {
	if f.down.Load() {
		return errDown
	}
	return f.app().CommitAppended(ctx, id, key, state)
}

func (f *faultyBlobs) DeleteAppended(ctx context.Context, id string) error {
	return f.app().DeleteAppended(ctx, id)
}

func (f *faultyBlobs) ListAppended(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	return f.app().ListAppended(ctx, prefix, fn)
}

// AppendsInPlace is the wrapped store's (the local store's: true).
func (f *faultyBlobs) AppendsInPlace() bool {
	a, ok := f.Store.(blob.InPlaceAppender)
	return ok && a.AppendsInPlace()
}

// tusAnswer is one answer of the tus endpoint.
type tusResp struct {
	status int
	h      http.Header
	body   []byte
}

func (r tusResp) offset() int64 {
	n, err := strconv.ParseInt(r.h.Get("Upload-Offset"), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// message is the API's message in an error's JSON body.
func (r tusResp) message() string {
	var e struct{ Code, Message string }
	json.Unmarshal(r.body, &e)
	return e.Code + ": " + e.Message
}

// tusDo sends one tus request with key, the tus version header and hdr.
func (e *testEnv) tusDo(method, url, key string, body io.Reader, hdr map[string]string) tusResp {
	e.t.Helper()
	if !strings.HasPrefix(url, "http") {
		url = e.url + url
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return tusResp{res.StatusCode, res.Header, b}
}

// tusMeta writes Upload-Metadata.
func tusMeta(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// tusCreate creates an upload of size bytes and returns its URL and the answer.
func (e *testEnv) tusCreate(key string, size int, meta string) (string, tusResp) {
	e.t.Helper()
	r := e.tusDo("POST", tusBase, key, nil, map[string]string{"Upload-Length": strconv.Itoa(size), "Upload-Metadata": meta})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.h.Get("Location"), r
}

// tusPatch sends b at off.
func (e *testEnv) tusPatch(key, loc string, off int64, b []byte, hdr ...string) tusResp {
	e.t.Helper()
	h := map[string]string{"Upload-Offset": strconv.FormatInt(off, 10), "Content-Type": "application/offset+octet-stream"}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	return e.tusDo("PATCH", loc, key, bytes.NewReader(b), h)
}

func randomContent(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestTusDiscoveryNeedsNoKey(t *testing.T) {
	e := newEnv(t)
	r := e.tusDo("OPTIONS", tusBase, "", nil, nil)
	if r.status != http.StatusOK && r.status != http.StatusNoContent {
		t.Fatalf("OPTIONS: %d %s", r.status, r.body)
	}
	ext := r.h.Get("Tus-Extension")
	for _, want := range []string{"creation", "creation-with-upload", "termination", "checksum", "expiration"} {
		if !strings.Contains(","+ext+",", ","+want+",") {
			t.Errorf("Tus-Extension %q lacks %s", ext, want)
		}
	}
	if r.h.Get("Tus-Version") != "1.0.0" || r.h.Get("Tus-Max-Size") == "" || !strings.Contains(r.h.Get("Tus-Checksum-Algorithm"), "sha256") {
		t.Errorf("discovery headers: %v", r.h)
	}
	if r := e.tusDo("POST", tusBase, "", nil, map[string]string{"Upload-Length": "3"}); r.status != http.StatusUnauthorized {
		t.Errorf("POST without a key: %d %s", r.status, r.body)
	}
}

// TestTusUploadIsAFile: a file sent in chunks, with a HEAD between them,
// becomes a perseus file with the right hash, found, downloaded and
// deleted through the file API; its id is in a header at creation and in
// the metadata HEAD returns; another tenant cannot see the upload.
func TestTusUploadIsAFile(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		content := randomContent(t, 6<<20+12345)
		loc, created := e.tusCreate(keyA, len(content), tusMeta("filename", "dir/report.pdf", "filetype", "application/pdf"))
		id := created.h.Get("Perseus-File-Id")
		if id == "" || !strings.HasSuffix(loc, "/"+id) || created.h.Get("Upload-Expires") == "" {
			t.Fatalf("creation: Location %q, Perseus-File-Id %q, Upload-Expires %q", loc, id, created.h.Get("Upload-Expires"))
		}
		if _, err := http.ParseTime(created.h.Get("Upload-Expires")); err != nil {
			t.Errorf("Upload-Expires: %v", err)
		}
		cut := 1<<20 + 7
		if r := e.tusPatch(keyA, loc, 0, content[:cut]); r.status != http.StatusNoContent || r.offset() != int64(cut) {
			t.Fatalf("first PATCH: %d offset %d %s", r.status, r.offset(), r.body)
		}
		if e.tenant {
			if r := e.tusDo("HEAD", loc, keyB, nil, nil); r.status != http.StatusNotFound {
				t.Errorf("HEAD by another tenant: %d", r.status)
			}
			if r := e.tusPatch(keyB, loc, int64(cut), content[cut:]); r.status != http.StatusNotFound {
				t.Errorf("PATCH by another tenant: %d %s", r.status, r.body)
			}
		}
		head := e.tusDo("HEAD", loc, keyA, nil, nil)
		if head.status != http.StatusOK || head.offset() != int64(cut) || head.h.Get("Upload-Length") != strconv.Itoa(len(content)) {
			t.Fatalf("HEAD: %d offset %d length %s", head.status, head.offset(), head.h.Get("Upload-Length"))
		}
		if md := head.h.Get("Upload-Metadata"); !strings.Contains(md, "fileId "+base64.StdEncoding.EncodeToString([]byte(id))) {
			t.Errorf("HEAD Upload-Metadata %q lacks fileId %s", md, id)
		}
		last := e.tusPatch(keyA, loc, int64(cut), content[cut:])
		if last.status != http.StatusNoContent || last.offset() != int64(len(content)) ||
			last.h.Get("Perseus-File-Id") != id || last.h.Get("Perseus-File-Status") != "uploaded" {
			t.Fatalf("last PATCH: %d offset %d, file %q %q: %s", last.status, last.offset(),
				last.h.Get("Perseus-File-Id"), last.h.Get("Perseus-File-Status"), last.body)
		}
		f := e.call("GET", "/api/v0/file/"+id, keyA, nil)
		if f.status != http.StatusOK || f.Status != "uploaded" || f.SourceHash != hashOf(content) || f.Name != "dir/report.pdf" {
			t.Fatalf("the file: %d %+v", f.status, f.File)
		}
		if got := e.contentOf(keyA, id); !bytes.Equal(got, content) {
			t.Fatalf("downloaded %d bytes differing from the %d sent", len(got), len(content))
		}
		// A PATCH after the end changes nothing; HEAD still says which file.
		if r := e.tusDo("HEAD", loc, keyA, nil, nil); r.offset() != int64(len(content)) {
			t.Errorf("HEAD after the end: offset %d", r.offset())
		}
		if d := e.call("DELETE", "/api/v0/file/"+id, keyA, nil); d.status != http.StatusOK && d.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", d.status, d.body)
		}
	})
}

// contentOf returns the content of key's file id.
func (e *testEnv) contentOf(key, id string) []byte {
	e.t.Helper()
	res, b := e.download("GET", key, id, nil)
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("download: %d %s", res.StatusCode, b)
	}
	return b
}

// TestTusChecksums: a chunk whose Upload-Checksum does not match is
// refused with 460 and nothing of it kept; sha1 and sha256 checksums that
// match are taken; an unknown algorithm is a 400 that says which to use.
func TestTusChecksums(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		content := randomContent(t, 300000)
		loc, _ := e.tusCreate(keyA, len(content), tusMeta("filename", "c.bin"))
		s1 := sha1.Sum(content[:100000])
		s256 := sha256.Sum256(content[100000:])
		wrong := sha256.Sum256(content[:10])
		b64 := base64.StdEncoding.EncodeToString
		if r := e.tusPatch(keyA, loc, 0, content[:100000], "Upload-Checksum", "sha256 "+b64(wrong[:])); r.status != 460 || !strings.Contains(r.message(), "checksum") {
			t.Fatalf("a wrong checksum: %d %s", r.status, r.body)
		}
		if r := e.tusDo("HEAD", loc, keyA, nil, nil); r.offset() != 0 {
			t.Fatalf("after a wrong checksum the offset is %d, want 0", r.offset())
		}
		if r := e.tusPatch(keyA, loc, 0, content[:100000], "Upload-Checksum", "crc32 AAAAAA=="); r.status != http.StatusBadRequest || !strings.Contains(r.message(), "sha256") {
			t.Fatalf("an unknown algorithm: %d %s", r.status, r.body)
		}
		if r := e.tusPatch(keyA, loc, 0, content[:100000], "Upload-Checksum", "sha1 "+b64(s1[:])); r.status != http.StatusNoContent || r.offset() != 100000 {
			t.Fatalf("a right sha1: %d %s", r.status, r.body)
		}
		r := e.tusPatch(keyA, loc, 100000, content[100000:], "Upload-Checksum", "sha256 "+b64(s256[:]))
		if r.status != http.StatusNoContent || r.h.Get("Perseus-File-Status") != "uploaded" {
			t.Fatalf("a right sha256: %d %s", r.status, r.body)
		}
	})
}

// TestTusKnownContentSendsNothing: with its sha256 declared, content the
// tenant has is answered at creation (the upload is whole at once, its
// fileId the existing file's) and no byte is taken; without it, the
// second upload of one content ends as the first's file.
func TestTusKnownContentSendsNothing(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		content := randomContent(t, 200000)
		loc, c := e.tusCreate(keyA, len(content), tusMeta("filename", "one.bin"))
		first := c.h.Get("Perseus-File-Id")
		if r := e.tusPatch(keyA, loc, 0, content); r.h.Get("Perseus-File-Status") != "uploaded" {
			t.Fatalf("first upload: %d %s", r.status, r.body)
		}
		before := e.keys()

		sum := sha256.Sum256(content)
		for _, declared := range []string{hashOf(content), base64.StdEncoding.EncodeToString(sum[:])} {
			loc, c := e.tusCreate(keyA, len(content), tusMeta("filename", "two.bin", "sha256", declared))
			if c.h.Get("Perseus-File-Id") != first {
				t.Fatalf("creation of known content (sha256 %s): Perseus-File-Id %q, want %s", declared, c.h.Get("Perseus-File-Id"), first)
			}
			if h := e.tusDo("HEAD", loc, keyA, nil, nil); h.offset() != int64(len(content)) {
				t.Fatalf("HEAD of known content: offset %d, want %d", h.offset(), len(content))
			}
		}
		// Without a hash: sent, then found to be there, and discarded.
		loc, _ = e.tusCreate(keyA, len(content), tusMeta("filename", "three.bin"))
		r := e.tusPatch(keyA, loc, 0, content)
		if r.status != http.StatusNoContent || r.h.Get("Perseus-File-Id") != first {
			t.Fatalf("a second upload of one content: %d, file %q, want %s: %s", r.status, r.h.Get("Perseus-File-Id"), first, r.body)
		}
		after := e.keys()
		if len(contentKeys(after)) != len(contentKeys(before)) {
			t.Errorf("content objects before %v, after %v", contentKeys(before), contentKeys(after))
		}
	})
}

// contentKeys keeps the keys of content objects.
func contentKeys(all []string) []string {
	var out []string
	for _, k := range all {
		if strings.Contains(k, "files/") {
			out = append(out, k)
		}
	}
	return out
}

// TestTusWrongDeclaredHashFails: bytes that do not hash to the declared
// sha256 end the file failed, and nothing is kept.
func TestTusWrongDeclaredHashFails(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		content := randomContent(t, 150000)
		loc, c := e.tusCreate(keyA, len(content), tusMeta("filename", "w.bin", "sha256", hashOf([]byte("something else"))))
		id := c.h.Get("Perseus-File-Id")
		r := e.tusPatch(keyA, loc, 0, content)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.message(), "hash_mismatch") {
			t.Fatalf("wrong declared hash: %d %s", r.status, r.body)
		}
		f := e.call("GET", "/api/v0/file/"+id, keyA, nil)
		if f.status != http.StatusOK || f.Status != "failed" || f.Reason == "" {
			t.Fatalf("the file: %d %+v", f.status, f.File)
		}
		if k := contentKeys(e.keys()); len(k) != 0 {
			t.Errorf("content kept: %v", k)
		}
	})
}

// TestTusInterruptedAndResumed: a PATCH cut off mid-body keeps what
// arrived; the client resumes from the offset HEAD gives and the file is
// whole. Termination ends an upload and it is gone.
func TestTusInterruptedAndResumed(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		content := randomContent(t, 7<<20+99)
		loc, _ := e.tusCreate(keyA, len(content), tusMeta("filename", "r.bin"))
		cut := 3<<20 + 5
		req, _ := http.NewRequest("PATCH", loc, io.MultiReader(bytes.NewReader(content[:cut]), failAfter{}))
		req.ContentLength = int64(len(content))
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Authorization", "Bearer "+keyA)
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
		var off int64
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			h := e.tusDo("HEAD", loc, keyA, nil, nil)
			if off = h.offset(); off == int64(cut) || time.Now().After(deadline) {
				break
			}
		}
		if off != int64(cut) {
			t.Fatalf("after a PATCH cut off at %d, HEAD says offset %d", cut, off)
		}
		r := e.tusPatch(keyA, loc, off, content[off:])
		if r.status != http.StatusNoContent || r.h.Get("Perseus-File-Status") != "uploaded" {
			t.Fatalf("resumed: %d %s", r.status, r.body)
		}
		id := r.h.Get("Perseus-File-Id")
		if got := e.contentOf(keyA, id); !bytes.Equal(got, content) {
			t.Fatal("the resumed file's bytes differ")
		}

		loc, _ = e.tusCreate(keyA, 10, tusMeta("filename", "t.bin"))
		e.tusPatch(keyA, loc, 0, []byte("01234"))
		if r := e.tusDo("DELETE", loc, keyA, nil, nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", r.status, r.body)
		}
		if r := e.tusDo("HEAD", loc, keyA, nil, nil); r.status != http.StatusNotFound {
			t.Fatalf("HEAD after DELETE: %d", r.status)
		}
	})
}

// failAfter is a body that fails: the client's connection breaks.
type failAfter struct{}

func (failAfter) Read([]byte) (int, error) {
	time.Sleep(200 * time.Millisecond) // let what was sent reach the server
	return 0, errors.New("the link went down")
}

// TestTusCreationWithUpload: POST with the first bytes, and an empty file.
func TestTusCreationWithUpload(t *testing.T) {
	e := newEnv(t)
	content := []byte("hello, tus")
	r := e.tusDo("POST", tusBase, keyA, bytes.NewReader(content), map[string]string{
		"Upload-Length": strconv.Itoa(len(content)), "Upload-Metadata": tusMeta("filename", "h.txt"),
		"Content-Type": "application/offset+octet-stream"})
	if r.status != http.StatusCreated || r.offset() != int64(len(content)) || r.h.Get("Perseus-File-Status") != "uploaded" {
		t.Fatalf("creation with upload: %d offset %d %v %s", r.status, r.offset(), r.h, r.body)
	}
	r = e.tusDo("POST", tusBase, keyA, nil, map[string]string{"Upload-Length": "0", "Upload-Metadata": tusMeta("filename", "empty")})
	if r.status != http.StatusCreated || r.h.Get("Perseus-File-Status") != "uploaded" {
		t.Fatalf("empty file: %d %v %s", r.status, r.h, r.body)
	}
	if f := e.call("GET", "/api/v0/file/"+r.h.Get("Perseus-File-Id"), keyA, nil); f.Status != "uploaded" || f.SourceHash != hashOf(nil) {
		t.Fatalf("the empty file: %+v", f.File)
	}
	// Bad metadata and a size over the limit say what to do.
	if r := e.tusDo("POST", tusBase, keyA, nil, map[string]string{"Upload-Length": "5", "Upload-Metadata": tusMeta("sha256", "xyz")}); r.status != http.StatusBadRequest || !strings.Contains(r.message(), "sha256") {
		t.Errorf("bad sha256 metadata: %d %s", r.status, r.body)
	}
	if r := e.tusDo("POST", tusBase, keyA, nil, map[string]string{"Upload-Length": "5", "Upload-Metadata": tusMeta("filename", "../x")}); r.status != http.StatusBadRequest {
		t.Errorf("bad filename: %d %s", r.status, r.body)
	}
}

// TestTusExpiredUploadsAreSwept: an upload idle for the pending TTL is
// gone, to HEAD and to the store.
func TestTusExpiredUploadsAreSwept(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PendingTTL = 300 * time.Millisecond })
	loc, _ := e.tusCreate(keyA, 100, tusMeta("filename", "x"))
	e.tusPatch(keyA, loc, 0, make([]byte, 10))
	time.Sleep(400 * time.Millisecond)
	if r := e.tusDo("HEAD", loc, keyA, nil, nil); r.status != http.StatusNotFound {
		t.Fatalf("HEAD of an expired upload: %d", r.status)
	}
	rep, err := e.srv.core.Sweep(context.Background())
	if err != nil || rep.ExpiredResumable != 1 {
		t.Fatalf("Sweep = %+v, %v; want 1 expired resumable upload", rep, err)
	}
	for k := range e.storedFiles() {
		if strings.Contains(k, "tus") || strings.Contains(k, "append") {
			t.Errorf("left after the sweep: %s", k)
		}
	}
}

// TestTusFromABrowser: with CORS configured, a page of a listed origin may
// preflight tus requests and read what a tus client needs of the answers.
func TestTusFromABrowser(t *testing.T) {
	const app = "https://app.example.com"
	e := newEnv(t, func(c *Config) { c.CORSOrigins = []string{app} })
	res := corsRequest(t, e, "OPTIONS", tusBase+"0190c1d2-0000-7000-8000-000000000000", app, map[string]string{
		"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "authorization,content-type,tus-resumable,upload-checksum,upload-offset"})
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != app || res.Header.Get("Access-Control-Allow-Methods") != "PATCH" {
		t.Fatalf("preflight of a PATCH: %d %v", res.StatusCode, res.Header)
	}
	res = corsRequest(t, e, "POST", tusBase, app, map[string]string{"Authorization": "Bearer " + keyA, "Tus-Resumable": "1.0.0",
		"Upload-Length": "4", "Upload-Metadata": tusMeta("filename", "b.txt")})
	exposed := strings.ToLower(res.Header.Get("Access-Control-Expose-Headers"))
	if res.StatusCode != http.StatusCreated || res.Header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("POST from the page: %d %v", res.StatusCode, res.Header)
	}
	for _, h := range []string{"Location", "Upload-Offset", "Upload-Expires", "Tus-Resumable", "Perseus-File-Id", "Perseus-File-Status"} {
		if !strings.Contains(exposed, strings.ToLower(h)) {
			t.Errorf("%s is not exposed: %q", h, exposed)
		}
	}
}

// TestTusResumesAcrossARestart: an upload goes on, on a server started
// anew over the same stores, from its offset, its hash from the state
// saved with the bytes: the file is whole and verified.
func TestTusResumesAcrossARestart(t *testing.T) {
	e := newEnv(t)
	content := randomContent(t, 5<<20+3)
	loc, _ := e.tusCreate(keyA, len(content), tusMeta("filename", "restart.bin"))
	if r := e.tusPatch(keyA, loc, 0, content[:2<<20+1]); r.status != http.StatusNoContent {
		t.Fatalf("first PATCH: %d %s", r.status, r.body)
	}
	again, err := New(Config{Meta: e.meta, Blobs: e.blobs, SigningKey: testSigningKey,
		StaticKeys: map[string]string{keyA: tenantA}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(again.Handler())
	defer ts.Close()
	loc = ts.URL + loc[strings.Index(loc, tusBase):]
	head := e.tusDo("HEAD", loc, keyA, nil, nil)
	r := e.tusPatch(keyA, loc, head.offset(), content[head.offset():])
	if head.offset() != 2<<20+1 || r.status != http.StatusNoContent || r.h.Get("Perseus-File-Status") != "uploaded" {
		t.Fatalf("after a restart: offset %d, then %d %s", head.offset(), r.status, r.body)
	}
	if f := e.call("GET", "/api/v0/file/"+r.h.Get("Perseus-File-Id"), keyA, nil); f.SourceHash != hashOf(content) {
		t.Fatalf("the file's hash %s, want %s", f.SourceHash, hashOf(content))
	}
}

// TestTusFinishCutOffIsTakenUp: the last PATCH's finish fails after the
// bytes are committed (the record cannot be made uploaded): the answer
// is 503 and the upload does not claim to be done; the next HEAD finishes
// it, and the file is uploaded, whole.
func TestTusFinishCutOffIsTakenUp(t *testing.T) {
	e := newEnv(t)
	content := randomContent(t, 300000)
	loc, c := e.tusCreate(keyA, len(content), tusMeta("filename", "cut.bin"))
	e.meta.failUploaded.Store(1)
	r := e.tusPatch(keyA, loc, 0, content)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("the last PATCH with the record unwritable: %d %s", r.status, r.body)
	}
	id := c.h.Get("Perseus-File-Id")
	if f := e.call("GET", "/api/v0/file/"+id, keyA, nil); f.Status != "pending" {
		t.Fatalf("after the failed finish the file is %q, want pending", f.Status)
	}
	head := e.tusDo("HEAD", loc, keyA, nil, nil)
	if head.status != http.StatusOK || head.offset() != int64(len(content)) {
		t.Fatalf("HEAD after the failed finish: %d offset %d", head.status, head.offset())
	}
	f := e.call("GET", "/api/v0/file/"+id, keyA, nil)
	if f.Status != "uploaded" || f.SourceHash != hashOf(content) {
		t.Fatalf("after HEAD the file is %+v, want uploaded", f.File)
	}
	if !bytes.Equal(e.contentOf(keyA, id), content) {
		t.Fatal("the file's bytes differ")
	}
	// A PATCH after the end changes nothing and says which file.
	if r := e.tusPatch(keyA, loc, int64(len(content)), nil); r.status != http.StatusNoContent || r.h.Get("Perseus-File-Id") != id {
		t.Errorf("PATCH after the end: %d %v", r.status, r.h)
	}
}

// TestTusPendingFileGetsTheBytesAfterAFailedCopy: a pending file of the
// same content (made by a create) gets the upload's bytes; when copying
// them to it fails, they are kept, and the next HEAD gives them to it.
func TestTusPendingFileGetsTheBytesAfterAFailedCopy(t *testing.T) {
	e := newEnv(t)
	content := randomContent(t, 200000)
	pending := e.create(keyA, "pending.bin", content)
	if pending.status != http.StatusCreated {
		t.Fatalf("create: %d %s", pending.status, pending.body)
	}
	loc, _ := e.tusCreate(keyA, len(content), tusMeta("filename", "tus.bin"))
	e.blobs.commitFail.Store(true)
	r := e.tusPatch(keyA, loc, 0, content)
	e.blobs.commitFail.Store(false)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("the last PATCH with the copy failing: %d %s", r.status, r.body)
	}
	head := e.tusDo("HEAD", loc, keyA, nil, nil)
	if head.status != http.StatusOK || head.h.Get("Perseus-File-Id") != pending.Rec.ID {
		t.Fatalf("HEAD after the failed copy: %d %v %s", head.status, head.h, head.body)
	}
	if f := e.call("GET", "/api/v0/file/"+pending.Rec.ID, keyA, nil); f.Status != "uploaded" {
		t.Fatalf("the pending file is %+v, want uploaded", f.File)
	}
	if !bytes.Equal(e.contentOf(keyA, pending.Rec.ID), content) {
		t.Fatal("the pending file's bytes differ")
	}
	for k := range e.storedFiles() {
		if strings.Contains(k, "/streamed/") {
			t.Errorf("the upload's own copy of the bytes is left: %s", k)
		}
	}
}

// TestTusWrongHashLeavesOtherFilesAlone: two uploads declare one wrong
// hash; the first ends failed with its reason; the second is refused
// without making the first's record pending again.
func TestTusWrongHashLeavesOtherFilesAlone(t *testing.T) {
	e := newEnv(t)
	wrong := tusMeta("filename", "w.bin", "sha256", hashOf([]byte("what was promised")))
	loc, c := e.tusCreate(keyA, 5, wrong)
	if r := e.tusPatch(keyA, loc, 0, []byte("first")); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	first := c.h.Get("Perseus-File-Id")
	loc, _ = e.tusCreate(keyA, 6, wrong)
	if r := e.tusPatch(keyA, loc, 0, []byte("second")); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.message(), "declared sha256") {
		t.Fatalf("second: %d %s", r.status, r.body)
	}
	if f := e.call("GET", "/api/v0/file/"+first, keyA, nil); f.Status != "failed" || f.Reason == "" {
		t.Fatalf("the first upload's file after the second: %+v, want failed with a reason", f.File)
	}
	for k := range e.storedFiles() {
		if strings.Contains(k, "files/") || strings.Contains(k, "appends/") {
			t.Errorf("kept after two wrong uploads: %s", k)
		}
	}
}

// TestTusDeleteOfAWholeUploadMakesNoFile: a DELETE of an upload whose
// bytes have all arrived, but whose finish failed, ends it without
// making a file of it, even while the finish would fail again.
func TestTusDeleteOfAWholeUploadMakesNoFile(t *testing.T) {
	e := newEnv(t)
	loc, c := e.tusCreate(keyA, 5, tusMeta("filename", "d.bin"))
	e.meta.failUploaded.Store(100)
	e.tusPatch(keyA, loc, 0, []byte("hello"))
	if r := e.tusDo("DELETE", loc, keyA, nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	e.meta.failUploaded.Store(0)
	if r := e.tusDo("HEAD", loc, keyA, nil, nil); r.status != http.StatusNotFound {
		t.Fatalf("HEAD after DELETE: %d", r.status)
	}
	if f := e.call("GET", "/api/v0/file/"+c.h.Get("Perseus-File-Id"), keyA, nil); f.Status == "uploaded" {
		t.Fatalf("the deleted upload made a file: %+v", f.File)
	}
}

// TestTusLocationIsThePublicURL: behind a proxy, Location is the public URL.
func TestTusLocationIsThePublicURL(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PublicURL = "https://files.example.com/" })
	_, r := e.tusCreate(keyA, 3, tusMeta("filename", "p.bin"))
	if loc := r.h.Get("Location"); !strings.HasPrefix(loc, "https://files.example.com"+tusBase) {
		t.Fatalf("Location %q, want under https://files.example.com%s", loc, tusBase)
	}
	if r := e.tusDo("POST", tusBase+"x/y", keyA, nil, map[string]string{"Upload-Length": "3"}); r.status == http.StatusCreated {
		t.Errorf("POST to a path below the endpoint created an upload")
	}
}

// TestTusHashFirstRefusesSizesTheCallerHas: a creation that asks
// Perseus-Hash-First: same-size without a sha256 (a client sending while
// it hashes) is refused, 409 hash_first before any upload is begun, when
// the caller has an uploaded file of exactly its size, since the content
// may be there; of a size the caller has no file of (another tenant's
// does not count), with the sha256 declared, or without the header, the
// creation is as any; with a deferred length the header changes nothing.
func TestTusHashFirstRefusesSizesTheCallerHas(t *testing.T) {
	e := newEnv(t)
	content := randomContent(t, 4000)
	loc, _ := e.tusCreate(keyA, len(content), tusMeta("filename", "first.bin"))
	if r := e.tusPatch(keyA, loc, 0, content); r.h.Get("Perseus-File-Status") != "uploaded" {
		t.Fatalf("first upload: %d %s", r.status, r.body)
	}
	uploads := func() int {
		n := 0
		if err := e.blobs.ListAppended(context.Background(), "tus/", func(blob.Info) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	create := func(key string, size int, hdr ...string) tusResp {
		h := map[string]string{"Upload-Length": strconv.Itoa(size), "Upload-Metadata": tusMeta("filename", "next.bin")}
		for i := 0; i+1 < len(hdr); i += 2 {
			h[hdr[i]] = hdr[i+1]
		}
		return e.tusDo("POST", tusBase, key, nil, h)
	}
	const ask = "Perseus-Hash-First"

	before := uploads()
	r := create(keyA, len(content), ask, "same-size")
	if r.status != http.StatusConflict || !strings.HasPrefix(r.message(), "hash_first: ") || !strings.Contains(r.message(), "sha256") ||
		r.h.Get("Location") != "" || r.h.Get("Content-Type") != "application/json" {
		t.Fatalf("asking to hash first, of a size the caller has: %d %v %s; want 409 hash_first saying to declare the sha256", r.status, r.h, r.body)
	}
	if n := uploads(); n != before {
		t.Fatalf("the refused creation began an upload: %d appendables, %d before", n, before)
	}

	for _, c := range []struct {
		what string
		key  string
		size int
		hdr  []string
		off  int64
	}{
		{"a new size", keyA, len(content) + 1, []string{ask, "same-size"}, 0},
		{"another tenant's size", keyB, len(content), []string{ask, "same-size"}, 0},
		{"the sha256 of other content declared", keyA, len(content), []string{ask, "same-size", "Upload-Metadata", tusMeta("filename", "n.bin", "sha256", hashOf([]byte("other")))}, 0},
		{"the sha256 of the content declared", keyA, len(content), []string{ask, "same-size", "Upload-Metadata", tusMeta("filename", "n.bin", "sha256", hashOf(content))}, int64(len(content))},
		{"no header", keyA, len(content), nil, 0},
		{"another value", keyA, len(content), []string{ask, "never"}, 0},
	} {
		r := create(c.key, c.size, c.hdr...)
		if r.status != http.StatusCreated || max(r.offset(), 0) != c.off || r.h.Get("Location") == "" { // tusd says no offset of 0
			t.Errorf("%s: %d offset %d %s; want 201 at offset %d", c.what, r.status, r.offset(), r.body, c.off)
		}
	}

	plain := e.tusDo("POST", tusBase, keyA, nil, map[string]string{"Upload-Defer-Length": "1"})
	asked := e.tusDo("POST", tusBase, keyA, nil, map[string]string{"Upload-Defer-Length": "1", ask: "same-size"})
	if plain.status != asked.status || asked.message() != plain.message() {
		t.Errorf("a deferred length: %d %s with the header, %d %s without", asked.status, asked.body, plain.status, plain.body)
	}
}
