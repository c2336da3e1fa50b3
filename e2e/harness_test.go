// Package e2e drives the built perseus binary as a user would: real processes, real stores, loopback HTTP.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/testenv"
)

var binary string

// fleetSigningKey is the signing key of every server the tests start.
const fleetSigningKey = "e2e=0123456789abcdef0123456789abcdef"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "perseus-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "perseus")
	build := exec.Command("go", "build", "-o", binary, "../cmd/perseus")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building perseus failed:", err)
		os.Exit(1)
	}
	// Every server the tests start off the embedded default shares one
	// signing key, as a fleet does (a test that wants another sets its own).
	os.Setenv("PERSEUS_SIGNING_KEY", fleetSigningKey)
	// What uploads in one pass remember goes to the tests' own cache.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serverProc is one running `perseus serve`.
type serverProc struct {
	URL  string
	Data string
	Key  string
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit error, once done is closed
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer runs perseus serve with a fresh port and the given data dir and
// extra flags, and waits until /healthz answers.
func startServer(t *testing.T, data string, extra ...string) *serverProc {
	t.Helper()
	return startServerAt(t, data, freeAddr(t), extra...)
}

// startServerAt is startServer on a given address, e.g. to restart on the same one.
func startServerAt(t *testing.T, data, addr string, extra ...string) *serverProc {
	t.Helper()
	args := append([]string{"serve", "--addr", addr, "--data", data}, extra...)
	cmd := exec.Command(binary, args...)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{URL: "http://" + addr, Data: data, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(t) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-p.done:
			t.Fatalf("perseus serve exited (%v) before it was healthy:\n%s", p.err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("perseus serve did not become healthy:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b, err := os.ReadFile(filepath.Join(data, "dev-api-key")); err == nil {
		p.Key = strings.TrimSpace(string(b))
	}
	return p
}

// stop sends SIGTERM and waits for a graceful exit.
func (p *serverProc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("perseus serve exited with %v on SIGTERM:\n%s", p.err, p.log.String())
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("perseus serve did not stop within 30s of SIGTERM")
	}
}

// kill stops the server with SIGKILL, as a crash would.
func (p *serverProc) kill(t *testing.T) {
	p.cmd.Process.Kill()
	<-p.done
}

// lockedBuffer collects a process's output; safe to read while it writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cli runs the perseus binary against p and returns stdout, stderr and the exit code.
func cli(t *testing.T, p *serverProc, args ...string) (string, string, int) {
	t.Helper()
	return cliWith(t, p, "", nil, args...)
}

// cliIn is cli in the directory dir.
func cliIn(t *testing.T, p *serverProc, dir string, args ...string) (string, string, int) {
	t.Helper()
	return cliWith(t, p, dir, nil, args...)
}

// cliWith runs the perseus binary in dir (the test's own when empty)
// against p, with stdin as its standard input when not nil (a pipe, not a
// file), and returns stdout, stderr and the exit code.
func cliWith(t *testing.T, p *serverProc, dir string, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PERSEUS_API_HOST="+p.URL, "LETTRIA_API_KEY="+p.Key)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// putCounter counts PUT requests an SDK client sends.
type putCounter struct {
	n  atomic.Int64
	rt http.RoundTripper
}

func (c *putCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		c.n.Add(1)
	}
	return c.rt.RoundTrip(r)
}

func sdk(t *testing.T, url, key string) (*perseus.Client, *putCounter) {
	t.Helper()
	pc := &putCounter{rt: http.DefaultTransport}
	c, err := perseus.NewClient(perseus.WithHost(url), perseus.WithAPIKey(key), perseus.WithHTTPClient(&http.Client{Transport: pc}))
	if err != nil {
		t.Fatal(err)
	}
	return c, pc
}

// writeRandom writes n random bytes to a new file in dir and returns its path and hex SHA-256.
func writeRandom(t *testing.T, dir, name string, n int) (string, string) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return p, hex.EncodeToString(h[:])
}

// freshSchema makes an empty schema in the test database and returns a URL that uses it.
func freshSchema(t *testing.T) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "e2e_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}
