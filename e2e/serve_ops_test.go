package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perseus-go/perseus/internal/testenv"
)

// opsKey is the API key the servers of these tests are started with.
const opsKey = "e2e-ops-key-0123456789"

// startLogged runs perseus serve and waits for its "serving" log line
// rather than probing /healthz over plain HTTP, so that it works for a
// server speaking TLS.
func startLogged(t *testing.T, data string, extra ...string) *serverProc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary, append([]string{"serve", "--addr", addr, "--data", data}, extra...)...)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{URL: "https://" + addr, Data: data, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(t) })
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(log.String(), `"msg":"serving"`); time.Sleep(20 * time.Millisecond) {
		select {
		case <-p.done:
			t.Fatalf("perseus serve exited (%v) before serving:\n%s", p.err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("perseus serve did not say it was serving:\n%s", log.String())
		}
	}
	return p
}

// waitLog waits for the server's log to hold want.
func (p *serverProc) waitLog(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.log.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the server's log:\n%s", want, p.log.String())
		}
	}
}

// apiCall sends body as JSON (nil: none) with the ops key and decodes the
// JSON answer into a map; it returns the response too (its body read).
func apiCall(t *testing.T, c *http.Client, method, url string, body any) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+opsKey)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &m)
	return res, m
}

// createFile creates a file of content's hash and returns its id and upload URL.
func createFile(t *testing.T, c *http.Client, base, name string, content []byte) (string, string) {
	t.Helper()
	sum := sha256.Sum256(content)
	res, m := apiCall(t, c, "POST", base+"/api/v0/file", map[string]string{"name": name, "sourceHash": hex.EncodeToString(sum[:])})
	file, _ := m["file"].(map[string]any)
	if res.StatusCode != http.StatusCreated || file == nil {
		t.Fatalf("create %s: %d %v", name, res.StatusCode, m)
	}
	u, _ := m["uploadUrl"].(string)
	return file["id"].(string), u
}

func tlsClient(ca *testenv.CA) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, ForceAttemptHTTP2: true}}
}

// servedSerial returns the serial number of the certificate a new
// connection to base is served.
func servedSerial(t *testing.T, ca *testenv.CA, base string) int64 {
	t.Helper()
	c := tlsClient(ca)
	defer c.CloseIdleConnections()
	res, err := c.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.TLS.PeerCertificates[0].SerialNumber.Int64()
}

// TestServeTLSSpeaksHTTP2AndReloadsOnSIGHUPWithoutDroppingConnections: with
// --tls-cert and --tls-key the server speaks HTTPS and HTTP/2 and issues
// https upload URLs; on SIGHUP new connections get the renewed certificate
// while a long poll on a connection made before goes on to its answer on
// that same connection; a broken pair on SIGHUP is logged and the last good
// one kept.
func TestServeTLSSpeaksHTTP2AndReloadsOnSIGHUPWithoutDroppingConnections(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.NewCA(t)
	cert, key := ca.WritePair(t, dir, "server", 100)
	srv := startLogged(t, filepath.Join(dir, "data"), "--tls-cert", cert, "--tls-key", key, "--api-key", opsKey,
		"--log-format", "json", "--log-level", "debug")
	client := tlsClient(ca)
	defer client.CloseIdleConnections()

	res, err := client.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Proto != "HTTP/2.0" || res.TLS.PeerCertificates[0].SerialNumber.Int64() != 100 {
		t.Fatalf("healthz over TLS: %d %s serial %v", res.StatusCode, res.Proto, res.TLS.PeerCertificates[0].SerialNumber)
	}
	srv.waitLog(t, `"level":"DEBUG","msg":"request","method":"GET","path":"/healthz"`) // --log-level debug shows probes

	content := []byte("over TLS")
	_, upload := createFile(t, client, srv.URL, "tls.txt", content)
	if !strings.HasPrefix(upload, srv.URL+"/upload/") {
		t.Fatalf("upload URL %q is not https on the server's address", upload)
	}
	req, _ := http.NewRequest("PUT", upload, bytes.NewReader(content))
	if res, err = client.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("PUT over TLS: %v %v", res, err)
	}
	res.Body.Close()

	// A long poll on the connection made with the first certificate.
	pending := make([]byte, 16)
	rand.Read(pending)
	id, _ := createFile(t, client, srv.URL, "pending.bin", pending)
	type answer struct {
		res    *http.Response
		status any
		reused bool
		err    error
	}
	polled := make(chan answer, 1)
	go func() {
		var reused bool
		req, _ := http.NewRequest("GET", srv.URL+"/api/v0/file/"+id+"?wait=3s", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}))
		req.Header.Set("Authorization", "Bearer "+opsKey)
		res, err := client.Do(req)
		if err != nil {
			polled <- answer{err: err}
			return
		}
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		res.Body.Close()
		polled <- answer{res: res, status: m["status"], reused: reused}
	}()
	time.Sleep(300 * time.Millisecond)

	cert2, key2 := ca.WritePair(t, dir, "server", 101)
	if cert2 != cert || key2 != key {
		t.Fatal("the renewed pair went elsewhere")
	}
	srv.cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(10 * time.Second); servedSerial(t, ca, srv.URL) != 101; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("new connections still get the first certificate 10s after SIGHUP:\n%s", srv.log.String())
		}
	}
	srv.waitLog(t, `"msg":"TLS certificate reloaded"`)
	a := <-polled
	if a.err != nil || a.res.StatusCode != 200 || a.status != "pending" || !a.reused ||
		a.res.TLS.PeerCertificates[0].SerialNumber.Int64() != 100 {
		t.Fatalf("long poll across the reload: %+v; want 200 pending on the connection made before it", a)
	}

	// A broken pair: logged, and the last good one kept.
	testenv.WriteWhole(t, cert, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"))
	srv.cmd.Process.Signal(syscall.SIGHUP)
	srv.waitLog(t, `"msg":"TLS certificate not reloaded: keeping the current one"`)
	if got := servedSerial(t, ca, srv.URL); got != 101 {
		t.Errorf("after a broken pair, new connections get serial %d, want the last good one (101)", got)
	}
	select {
	case <-srv.done:
		t.Fatalf("the server exited on SIGHUP: %v", srv.err)
	default:
	}
}

// TestServeMetricsAddrServesMetricsAndPprofApart: with --metrics-addr,
// /metrics (build information included) and pprof are served there and
// /metrics no longer on the API's listener; --pprof still serves pprof
// alone; --log-level warn leaves out the info lines.
func TestServeMetricsAddrServesMetricsAndPprofApart(t *testing.T) {
	metricsAddr, pprofAddr := freeAddr(t), freeAddr(t)
	srv := startServer(t, t.TempDir(), "--metrics-addr", metricsAddr, "--pprof", pprofAddr, "--api-key", opsKey,
		"--log-format", "json", "--log-level", "warn")
	get := func(url string) (int, string) {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b)
	}
	if code, _ := get(srv.URL + "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the API's listener with --metrics-addr: %d, want 404", code)
	}
	code, m := get("http://" + metricsAddr + "/metrics")
	for _, want := range []string{`perseus_build_info{goversion="go1.`, `version="0.1.0"} 1`, "go_build_info{",
		`perseus_http_requests_total{code="404",route="unmatched"} 1`} {
		if code != 200 || !strings.Contains(m, want) {
			t.Errorf("--metrics-addr /metrics: %d, no %q", code, want)
		}
	}
	for _, url := range []string{"http://" + metricsAddr + "/debug/pprof/", "http://" + metricsAddr + "/debug/pprof/heap",
		"http://" + pprofAddr + "/debug/pprof/"} {
		if code, _ := get(url); code != 200 {
			t.Errorf("%s: %d", url, code)
		}
	}
	// The command line may hold secrets (--db's password, --signing-key).
	if code, body := get("http://" + metricsAddr + "/debug/pprof/cmdline"); code == 200 || strings.Contains(body, "serve") {
		t.Errorf("/debug/pprof/cmdline answers %d: the command line is shown", code)
	}
	if code, _ := get("http://" + pprofAddr + "/metrics"); code != http.StatusNotFound {
		t.Errorf("--pprof serves /metrics: %d", code)
	}
	srv.stop(t)
	if log := srv.log.String(); strings.Contains(log, `"level":"INFO"`) {
		t.Errorf("--log-level warn logged info lines:\n%s", log)
	}
}

// TestServeShutsDownWithinItsTimeoutAnsweringLongPolls: on SIGTERM, long
// polls of 60s are answered at once with the file as it is (pending), an
// upload in flight that goes on to its end is stored, uploads that never
// end are cut at the timeout and leave nothing marked uploaded, and the
// process exits within --shutdown-timeout.
func TestServeShutsDownWithinItsTimeoutAnsweringLongPolls(t *testing.T) {
	const timeout = 4 * time.Second
	data := t.TempDir()
	srv := startServer(t, data, "--shutdown-timeout", timeout.String(), "--api-key", opsKey, "--log-format", "json")
	client := &http.Client{}

	// Long polls on files nobody uploads.
	type polled struct {
		code   int
		status any
		at     time.Time
		err    error
	}
	const polls = 4
	answers := make(chan polled, polls)
	for i := range polls {
		content := make([]byte, 32)
		rand.Read(content)
		id, _ := createFile(t, client, srv.URL, "poll"+string(rune('a'+i)), content)
		go func() {
			req, _ := http.NewRequest("GET", srv.URL+"/api/v0/file/"+id+"?wait=60s", nil)
			req.Header.Set("Authorization", "Bearer "+opsKey)
			res, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
			if err != nil {
				answers <- polled{err: err, at: time.Now()}
				return
			}
			var m map[string]any
			json.NewDecoder(res.Body).Decode(&m)
			res.Body.Close()
			answers <- polled{code: res.StatusCode, status: m["status"], at: time.Now()}
		}()
	}

	// Uploads in flight: one that will end, one that never will, and a stream that never will.
	type sent struct {
		code int
		body map[string]any
		err  error
	}
	send := func(method, url string, size int, pr *io.PipeReader, auth bool) chan sent {
		out := make(chan sent, 1)
		req, _ := http.NewRequest(method, url, pr)
		req.ContentLength = int64(size)
		if auth {
			req.Header.Set("Authorization", "Bearer "+opsKey)
		}
		go func() {
			res, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
			if err != nil {
				out <- sent{err: err}
				return
			}
			var m map[string]any
			json.NewDecoder(res.Body).Decode(&m)
			res.Body.Close()
			out <- sent{code: res.StatusCode, body: m}
		}()
		return out
	}
	endsContent, cutContent, streamContent := make([]byte, 1<<20), make([]byte, 1<<20), make([]byte, 3<<20)
	for _, b := range [][]byte{endsContent, cutContent, streamContent} {
		rand.Read(b)
	}
	endsID, endsURL := createFile(t, client, srv.URL, "ends.bin", endsContent)
	cutID, cutURL := createFile(t, client, srv.URL, "cut.bin", cutContent)
	endsR, endsW := io.Pipe()
	cutR, cutW := io.Pipe()
	streamR, streamW := io.Pipe()
	defer cutW.Close()
	defer streamW.Close()
	endsDone := send("PUT", endsURL, len(endsContent), endsR, false)
	cutDone := send("PUT", cutURL, len(cutContent), cutR, false)
	streamDone := send("POST", srv.URL+"/api/v0/file/stream?name=stream.bin", len(streamContent), streamR, true)
	endsW.Write(endsContent[:len(endsContent)/2])
	cutW.Write(cutContent[:len(cutContent)/2])
	streamW.Write(streamContent[:len(streamContent)/2])

	// Everything is in the server's hands: 4 polls, 3 uploads and the scrape itself.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(b), "\nperseus_http_requests_in_flight 8\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the requests are not all in flight:\n%s", b)
		}
	}

	sigterm := time.Now()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	for range polls {
		a := <-answers
		if a.err != nil || a.code != 200 || a.status != "pending" {
			t.Errorf("long poll at shutdown: %d %v %v; want 200 and the pending file", a.code, a.status, a.err)
		}
		if d := a.at.Sub(sigterm); d > 2*time.Second {
			t.Errorf("a long poll was answered %v after SIGTERM; want at once", d)
		}
	}
	time.Sleep(200 * time.Millisecond)
	endsW.Write(endsContent[len(endsContent)/2:])
	endsW.Close()
	if r := <-endsDone; r.err != nil || r.code != 200 || r.body["status"] != "uploaded" {
		t.Errorf("the upload that went on after SIGTERM: %d %v %v; want 200 uploaded", r.code, r.body, r.err)
	}
	select {
	case <-srv.done:
	case <-time.After(timeout + 5*time.Second):
		t.Fatalf("perseus serve still runs %v after SIGTERM with --shutdown-timeout %v", time.Since(sigterm), timeout)
	}
	took := time.Since(sigterm)
	t.Logf("exited %v after SIGTERM (--shutdown-timeout %v)", took.Round(time.Millisecond), timeout)
	if srv.err != nil || took > timeout+time.Second {
		t.Errorf("exit %v after %v; want a clean exit within %v", srv.err, took, timeout)
	}
	if took < timeout/2 {
		t.Errorf("exited %v after SIGTERM: it did not wait for the uploads in flight", took)
	}
	cutW.CloseWithError(io.ErrUnexpectedEOF) // the client's side of the cut: its write loop ends, so that Do returns
	streamW.CloseWithError(io.ErrUnexpectedEOF)
	for name, ch := range map[string]chan sent{"cut upload": cutDone, "cut stream": streamDone} {
		if r := <-ch; r.err == nil && r.code < 400 {
			t.Errorf("%s: %d %v; want it to fail", name, r.code, r.body)
		}
	}
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"shutdown timeout: closing the connections of requests still in progress","requests":2`, `"msg":"stopped"`} {
		if !strings.Contains(srv.log.String(), want) {
			t.Errorf("no %s in the log:\n%s", want, srv.log.String())
		}
	}

	// What a restart finds: the finished upload stored whole, nothing else uploaded.
	again := startServer(t, data, "--api-key", opsKey)
	for id, want := range map[string]string{endsID: "uploaded", cutID: "pending"} {
		if _, m := apiCall(t, client, "GET", again.URL+"/api/v0/file/"+id, nil); m["status"] != want {
			t.Errorf("after the restart file %s is %v, want %s", id, m["status"], want)
		}
	}
	req, _ := http.NewRequest("GET", again.URL+"/api/v0/file/"+endsID+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+opsKey)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Equal(got, endsContent) {
		t.Errorf("the upload finished during shutdown reads back %d bytes, not its content", len(got))
	}
	_, list := apiCall(t, client, "GET", again.URL+"/api/v0/file?limit=100", nil)
	files, _ := list["files"].([]any)
	for _, f := range files {
		f := f.(map[string]any)
		if f["name"] == "stream.bin" || (f["name"] == "cut.bin" && f["status"] != "pending") {
			t.Errorf("after the restart: %v", f)
		}
	}
	if len(files) != polls+2 {
		t.Errorf("after the restart %d files are listed, want %d: %v", len(files), polls+2, files)
	}
}
