package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
)

// partProxy stands between the CLI and `perseus serve`, counting the part
// PUTs that pass. Upload URLs are built from the Host the server is asked
// at, so parts come through the proxy too. While holding, it lets the first
// `pass` parts through and, once they are answered, closes ready and keeps
// every later part waiting until its client goes away.
type partProxy struct {
	*httptest.Server
	holding atomic.Bool
	pass    int64
	ready   chan struct{}

	seen, bytes atomic.Int64
	passed      sync.WaitGroup
	once        sync.Once
}

func newPartProxy(t *testing.T, target string, pass int64) *partProxy {
	rp := proxyTo(t, target)
	p := &partProxy{pass: pass, ready: make(chan struct{})}
	p.holding.Store(true)
	p.passed.Add(int(pass))
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/parts/") {
			rp.ServeHTTP(w, r)
			return
		}
		n := p.seen.Add(1)
		p.bytes.Add(r.ContentLength)
		if !p.holding.Load() {
			rp.ServeHTTP(w, r)
			return
		}
		if n <= p.pass {
			rp.ServeHTTP(w, r)
			p.passed.Done()
			return
		}
		go func() { p.passed.Wait(); p.once.Do(func() { close(p.ready) }) }()
		// The server notices a client gone only once the body is read.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	}))
	t.Cleanup(p.Close)
	return p
}

// interruptCLI runs the CLI with args against via, sends it SIGINT
// (Ctrl-C) once ready is closed, and checks that it stops with exit status
// 130 and a hint to run it again.
func interruptCLI(t *testing.T, via *serverProc, args []string, ready <-chan struct{}) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "PERSEUS_API_HOST="+via.URL, "LETTRIA_API_KEY="+via.Key)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-ready:
		cmd.Process.Signal(syscall.SIGINT)
	case <-exited:
		t.Fatalf("the upload ended before it was interrupted: stdout %q, stderr %q", out.String(), errb.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the upload did not reach the point of interruption within 60 s; stderr:\n%s", errb.String())
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the upload did not stop within 30 s of SIGINT; stderr:\n%s", errb.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(errb.String(), "run the same command again to resume") {
		t.Fatalf("interrupted upload: exit %d, stdout %q, stderr %q; want exit 130 (Ctrl-C) and a hint to resume", code, out.String(), errb.String())
	}
}

// TestCLIUploadInterruptedBySIGINTResumes interrupts `perseus file upload
// --parts` with SIGINT (Ctrl-C) once two parts of a 7-part file are stored, then runs
// the same command again: it sends only the five missing parts, and the
// file ends uploaded with content that hashes to its sourceHash.
func TestCLIUploadInterruptedBySIGINTResumes(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data)
	const partSize = 5 << 20
	path, hash := writeRandom(t, t.TempDir(), "archive.bin", 6*partSize+123)
	proxy := newPartProxy(t, srv.URL, 2)
	via := &serverProc{URL: proxy.URL, Key: srv.Key}
	args := []string{"file", "upload", path, "--parts", "--part-size", "5MiB", "--parallel-parts", "3", "--json"}

	interruptCLI(t, via, args, proxy.ready) // once two parts are stored, the others on their way
	if n := proxy.seen.Load(); n < 3 {
		t.Fatalf("only %d part PUTs before the interrupt; the test did not interrupt mid-upload", n)
	}

	proxy.holding.Store(false)
	seen, sent := proxy.seen.Load(), proxy.bytes.Load()
	stdout, stderr, code := cli(t, via, args...)
	if code != 0 {
		t.Fatalf("resumed upload: exit %d: %s", code, stderr)
	}
	var f perseus.File
	if err := json.Unmarshal([]byte(stdout), &f); err != nil || f.Status != perseus.StatusUploaded || f.SourceHash != hash {
		t.Fatalf("resumed upload printed %q (%v), want the file uploaded", stdout, err)
	}
	if parts, bytes := proxy.seen.Load()-seen, proxy.bytes.Load()-sent; parts != 5 || bytes != 4*partSize+123 {
		t.Errorf("the resumed upload sent %d parts, %d bytes; want only the 5 missing parts, %d bytes", parts, bytes, 4*partSize+123)
	}
	if n := countBlobs(t, data, hash); n != 1 {
		t.Errorf("%d stored files name the content's hash, want its one verified copy", n)
	}
	verifyBlob(t, data, hash)
	if left, _ := filepath.Glob(filepath.Join(data, "blobs", "objects", "parts", "*")); len(left) != 0 {
		t.Errorf("parts left in the store after completing: %v", left)
	}
}

// proxyTo is a reverse proxy to target, for the proxies that cut uploads.
func proxyTo(t *testing.T, target string) *httputil.ReverseProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return httputil.NewSingleHostReverseProxy(u)
}
