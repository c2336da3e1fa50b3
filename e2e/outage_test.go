package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/testenv"
)

// TestUploadsRideOutS3AndPostgreSQLOutages runs eight `perseus file upload
// --wait` processes against `perseus serve` on PostgreSQL and S3, each
// behind a TCP proxy, with the CLI's default retries. S3 is cut for 10 s
// while the parts of the four large files are on their way (once 8 MiB of
// their 48 MiB went, so that none can have finished), and the four small
// files are started while it is gone; then PostgreSQL is cut for 10 s, from
// the moment S3 comes back, so that every upload meets both outages. Every
// process exits 0 with its file uploaded under the right hash, without
// being run again, and the store holds the bytes.
func TestUploadsRideOutS3AndPostgreSQLOutages(t *testing.T) {
	if testing.Short() {
		t.Skip("cuts PostgreSQL and S3 for 10 s each")
	}
	const outage = 10 * time.Second
	pgURL, err := url.Parse(freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	s3URL, err := url.Parse(testenv.S3URL(t, "outage"))
	if err != nil {
		t.Fatal(err)
	}
	s3Endpoint, _ := url.Parse(s3URL.Query().Get("endpoint"))
	pgProxy := newFaultProxy(t, pgURL.Host)
	s3Proxy := newFaultProxy(t, s3Endpoint.Host)
	s3Cut := make(chan struct{})
	wire := newTripwire(t, s3Proxy.Addr, func() { s3Proxy.cut(); close(s3Cut) })
	pgURL.Host = pgProxy.Addr
	q := s3URL.Query()
	q.Set("endpoint", "http://"+wire.Addr)
	s3URL.RawQuery = q.Encode()
	srv := startServer(t, t.TempDir(), "--db", pgURL.String(), "--blobs", s3URL.String(), "--api-key", "k", "--verify-interval", "100ms")
	srv.Key = "k"

	dir := t.TempDir()
	var large, small []*outageUpload
	for i := range 4 {
		p, h := writeRandom(t, dir, fmt.Sprintf("large-%d.bin", i), 12<<20) // parts of 5, 5 and 2 MiB
		large = append(large, &outageUpload{path: p, hash: h})
		p, h = writeRandom(t, dir, fmt.Sprintf("small-%d.bin", i), 256<<10+i)
		small = append(small, &outageUpload{path: p, hash: h})
	}
	args := func(u *outageUpload) []string {
		return []string{"file", "upload", u.path, "--wait", "--json", "--part-size", "5MiB"}
	}

	wire.arm(8 << 20)
	for _, u := range large {
		u.run = startCLI(t, srv, args(u)...)
	}
	select {
	case <-s3Cut:
	case <-time.After(60 * time.Second):
		t.Fatalf("the parts never reached 8 MiB; the large uploads said:\n%s", stderrs(large))
	}
	cutAt := time.Now()
	for _, u := range small {
		u.run = startCLI(t, srv, args(u)...)
	}
	time.Sleep(time.Until(cutAt.Add(outage)))
	pgProxy.cut()
	s3Proxy.restore()
	t.Logf("S3 back after %v; PostgreSQL cut", time.Since(cutAt).Round(time.Millisecond))
	time.Sleep(outage)
	all := append(large, small...)
	for _, u := range all { // none can be uploaded without PostgreSQL, nor give up yet
		select {
		case <-u.run.done:
			t.Errorf("perseus file upload %s ended during the outages:\n%s", u.path, u.run.err.String())
		default:
		}
	}
	pgProxy.restore()
	t.Logf("PostgreSQL back after %v", time.Since(cutAt).Round(time.Millisecond))

	var hashes []string
	for _, u := range all {
		hashes = append(hashes, u.hash)
		out, errOut, code := u.run.wait(t, 90*time.Second)
		var f perseus.File
		if code != 0 || json.Unmarshal([]byte(out), &f) != nil || f.Status != perseus.StatusUploaded || f.SourceHash != u.hash {
			t.Errorf("perseus file upload %s: exit %d, stdout %q, stderr:\n%s", u.path, code, out, errOut)
		}
	}
	t.Logf("all %d uploads ended %v after S3 was cut", len(all), time.Since(cutAt).Round(time.Millisecond))
	if t.Failed() {
		t.Fatalf("server log:\n%s", srv.log.String())
	}

	// The server agrees, and holds the bytes.
	c, _ := sdk(t, srv.URL, "k")
	files, err := c.File.FindFiles(context.Background(), perseus.FindQuery{SourceHashes: hashes})
	if err != nil || len(files) != len(all) {
		t.Fatalf("find: %d files, %v; want %d", len(files), err, len(all))
	}
	for _, f := range files {
		if f.Status != perseus.StatusUploaded {
			t.Errorf("file %s is %s, want uploaded", f.ID, f.Status)
			continue
		}
		if _, err := c.File.DownloadFile(context.Background(), f.ID, io.Discard); err != nil { // checks the SHA-256
			t.Errorf("download %s: %v", f.ID, err)
		}
	}
}

// outageUpload is one file uploaded across the outages, and its process.
type outageUpload struct {
	path, hash string
	run        *cliRun
}

// stderrs gathers what the processes of uploads said on stderr so far.
func stderrs(uploads []*outageUpload) string {
	var b strings.Builder
	for _, u := range uploads {
		fmt.Fprintf(&b, "%s:\n%s\n", u.path, u.run.err.String())
	}
	return b.String()
}

// cliRun is one perseus process running in the background.
type cliRun struct {
	cmd      *exec.Cmd
	out, err lockedBuffer
	done     chan struct{}
}

// startCLI starts the perseus binary against p with args.
func startCLI(t *testing.T, p *serverProc, args ...string) *cliRun {
	t.Helper()
	r := &cliRun{cmd: exec.Command(binary, args...), done: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), "PERSEUS_API_HOST="+p.URL, "LETTRIA_API_KEY="+p.Key)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.err
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// wait waits for the process to exit, at most d, and returns its stdout,
// stderr and exit code (-1 when it was killed for taking longer).
func (r *cliRun) wait(t *testing.T, d time.Duration) (string, string, int) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		r.cmd.Process.Kill()
		<-r.done
	}
	return r.out.String(), r.err.String(), r.cmd.ProcessState.ExitCode()
}

// tripwire forwards TCP connections to target and, once armed, calls fire
// (once) when n more bytes went towards target: a way to cut a backend
// while bytes are on their way to it, however fast they go.
type tripwire struct {
	Addr   string
	target string
	sent   atomic.Int64
	at     atomic.Int64 // when sent reaches it, fire; 0: not armed
	fire   func()
	once   sync.Once
}

func newTripwire(t *testing.T, target string, fire func()) *tripwire {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &tripwire{Addr: ln.Addr().String(), target: target, fire: fire}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go w.forward(c)
		}
	}()
	return w
}

// arm makes the tripwire fire once n more bytes went through.
func (w *tripwire) arm(n int64) { w.at.Store(w.sent.Load() + n) }

func (w *tripwire) forward(c net.Conn) {
	defer c.Close()
	b, err := net.Dial("tcp", w.target)
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{})
	go func() { io.Copy(c, b); c.Close(); close(done) }()
	io.Copy(b, wireReader{c, w})
	b.Close()
	<-done
}

// wireReader counts what is read from a client towards the target.
type wireReader struct {
	r io.Reader
	w *tripwire
}

func (r wireReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if at := r.w.at.Load(); n > 0 && r.w.sent.Add(int64(n)) >= at && at > 0 {
		r.w.once.Do(r.w.fire)
	}
	return n, err
}
