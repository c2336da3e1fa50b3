package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/perseus-go/perseus"
)

// writeFile writes n pseudo-random bytes, different for every seed, to path
// and flushes them to disk, so that no write-back of them runs during a
// measurement. The file stays in the page cache: every reader of it, the
// baselines included, reads it from memory.
func writeFile(path string, n int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	copy(key[8:], []byte(path))
	src := mrand.NewChaCha8(key)
	if _, err := io.CopyBuffer(f, io.LimitReader(src, n), make([]byte, 1<<20)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// settle flushes every dirty page of the machine and pauses, so that the
// write-back of files just generated does not run into the next measurement.
func settle() {
	syscall.Sync()
	time.Sleep(time.Second)
}

// durableCopy copies src into a new file in dir the way the local blob store
// writes: through a user-space buffer (as bytes arriving from a socket must
// be), fsync, rename, fsync the directory. It returns how long that took.
func durableCopy(src, dir string) (time.Duration, error) {
	start := time.Now()
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, "baseline-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(out.Name())
	// The wrappers hide ReadFrom/WriteTo, so the kernel's copy_file_range
	// cannot short-cut the copy.
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, make([]byte, 1<<20)); err != nil {
		out.Close()
		return 0, err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return 0, err
	}
	if err := out.Close(); err != nil {
		return 0, err
	}
	dst := filepath.Join(dir, "baseline-copy")
	if err := os.Rename(out.Name(), dst); err != nil {
		return 0, err
	}
	defer os.Remove(dst)
	d, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// sha256sumTime runs sha256sum on path and returns how long it took.
func sha256sumTime(ctx context.Context, path string) (time.Duration, string, error) {
	start := time.Now()
	out, err := exec.CommandContext(ctx, "sha256sum", path).Output()
	if err != nil {
		return 0, "", fmt.Errorf("sha256sum: %w", err)
	}
	return time.Since(start), strings.Fields(string(out))[0], nil
}

// goHashTime hashes path as the SDK does and returns how long it took.
func goHashTime(path string) (time.Duration, string, error) {
	start := time.Now()
	h, _, err := perseus.HashFile(path)
	return time.Since(start), h, err
}

// counter is an http.RoundTripper that counts the request body bytes it
// sends: each request's Content-Length, which the transport sends exactly
// or fails. It does not wrap the body, so that a file body still goes by
// sendfile(2) as it does without the counter (every request of the SDK
// has a Content-Length; one without would count as 0 and is counted
// apart, in unsized), unless read is set: then it also counts the bytes
// the transport reads from each body but JSON (in read), at least those
// it sent, and a request body the transport never sends (answered before
// Expect: 100-continue let it go) counts 0.
type counter struct {
	rt       http.RoundTripper
	body     atomic.Int64 // request body bytes, every request
	putBody  atomic.Int64 // request body bytes of PUTs (content)
	requests atomic.Int64
	unsized  atomic.Int64 // requests with a body of unknown length
	reading  atomic.Bool  // count what the transport reads from bodies
	read     atomic.Int64 // body bytes the transport read, while reading
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	if r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength < 0 {
			c.unsized.Add(1)
		} else {
			c.body.Add(r.ContentLength)
			if r.Method == http.MethodPut {
				c.putBody.Add(r.ContentLength)
			}
		}
		if c.reading.Load() && r.Header.Get("Content-Type") != "application/json" {
			r = r.Clone(r.Context())
			r.Body = &countingBody{ReadCloser: r.Body, n: &c.read}
		}
	}
	return c.rt.RoundTrip(r)
}

// countingBody counts what is read from a request body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// client returns an SDK client for url whose transport keeps conns idle
// connections and counts what it sends.
func client(url string, conns int) (*perseus.Client, *counter, error) {
	return clientWithKey(url, apiKey, conns)
}

// clientWithKey is client with another API key.
func clientWithKey(url, key string, conns int) (*perseus.Client, *counter, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = conns*2, conns*2
	c := &counter{rt: t}
	cl, err := perseus.NewClient(perseus.WithHost(url), perseus.WithAPIKey(key), perseus.WithHTTPClient(&http.Client{Transport: c}))
	return cl, c, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pgSchema makes an empty schema in the PostgreSQL at base and returns a URL
// that uses it and a func that drops it.
func pgSchema(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	schema := "bench_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema, drop, nil
}

// pgSetting returns a PostgreSQL setting, for the notes.
func pgSetting(ctx context.Context, base, name string) string {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "?"
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
		return "?"
	}
	return v
}
