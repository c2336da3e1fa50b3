package sdktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/server"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/blob/local"
	s3blob "github.com/perseus-go/perseus/store/blob/s3"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

const envKey = "env-key"

// env is a real Perseus server on loopback over SQLite and a real blob
// store (the local directory, or the S3 bucket of PERSEUS_TEST_S3_URL),
// behind a handler that counts requests and can inject faults.
type env struct {
	t     *testing.T
	url   string
	srv   *server.Server
	h     http.Handler
	blobs blob.Store
	part  int64 // the smallest part size the server accepts

	mu     sync.Mutex
	hits   map[string]int // "METHOD route" → requests that reached the server
	faults []fault
}

// fault answers a request instead of the server while it returns true.
type fault func(w http.ResponseWriter, r *http.Request) bool

// backends runs fn against the embedded default and, when
// PERSEUS_TEST_S3_URL is set, against S3.
func backends(t *testing.T, fn func(t *testing.T, e *env), tweak ...func(*server.Config)) {
	t.Run("embedded", func(t *testing.T) { fn(t, newEnv(t, nil, tweak...)) })
	t.Run("s3", func(t *testing.T) { fn(t, newEnv(t, openS3(t), tweak...)) })
}

// openS3 opens a fresh prefix of the test bucket, skipping without one
// (failing in CI), and empties it when the test ends.
func openS3(t *testing.T) blob.Store {
	t.Helper()
	ctx := context.Background()
	s, err := s3blob.Open(ctx, testenv.S3URL(t, "sdk-test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.ListMultipart(ctx, "", func(u blob.Upload) error { return s.AbortMultipart(ctx, u.Key, u.ID) })
		s.List(ctx, "", func(i blob.Info) error { return s.Delete(ctx, i.Key) })
	})
	return s
}

// newEnv starts a server over blobs (nil: a local directory) whose parts
// may be as small as 64 KiB, except on S3, whose minimum is 5 MiB.
func newEnv(t *testing.T, blobs blob.Store, tweak ...func(*server.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	minPart := int64(5 << 20)
	if blobs == nil {
		s, err := local.Open(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		blobs, minPart = s, 64<<10
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Meta: db, Blobs: blobs, SigningKey: bytes.Repeat([]byte("k"), 32),
		StaticKeys: map[string]string{envKey: "t"}, MinPartSize: minPart,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, h: srv.Handler(), blobs: blobs, part: cfg.MinPartSize, hits: map[string]int{}}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { srv.Run(runCtx); close(ran) }()
	ts := httptest.NewServer(http.HandlerFunc(e.serve))
	e.url = ts.URL
	t.Cleanup(func() { ts.Close(); stop(); <-ran; db.Close() })
	return e
}

func (e *env) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.hits[route(r)]++
	faults := e.faults
	e.mu.Unlock()
	for _, f := range faults {
		if f(w, r) {
			return
		}
	}
	e.h.ServeHTTP(w, r)
}

// inject adds a fault in front of the server.
func (e *env) inject(f fault) {
	e.mu.Lock()
	e.faults = append(e.faults, f)
	e.mu.Unlock()
}

// count returns how many requests of a route reached the server, e.g.
// "POST /api/v0/file/find" or "PUT part".
func (e *env) count(r string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[r]
}

// route names a request by method and route, ids left out.
func route(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/upload/") && strings.Contains(p, "/parts/"):
		return r.Method + " part"
	case strings.HasPrefix(p, "/upload/"):
		return r.Method + " upload"
	case strings.HasSuffix(p, "/parts"):
		return r.Method + " part URLs"
	case strings.HasSuffix(p, "/complete"):
		return r.Method + " complete"
	case strings.HasSuffix(p, "/multipart"):
		return r.Method + " multipart"
	case strings.HasPrefix(p, "/api/v0/tus/") && p != "/api/v0/tus/":
		return r.Method + " tus upload"
	}
	return r.Method + " " + p
}

// client returns an SDK client of the env whose requests go through rt (nil: the default).
func (e *env) client(rt http.RoundTripper, opts ...perseus.Option) *perseus.Client {
	e.t.Helper()
	if rt == nil {
		rt = http.DefaultTransport
	}
	opts = append([]perseus.Option{perseus.WithHost(e.url), perseus.WithAPIKey(envKey),
		perseus.WithHTTPClient(&http.Client{Transport: rt}),
		perseus.WithRetry(perseus.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond})}, opts...)
	c, err := perseus.NewClient(opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// stored returns the verified content the store holds for f.
func (e *env) stored(f *perseus.File) []byte {
	e.t.Helper()
	// A file sent before its hash was known (a stream, or in one pass)
	// is kept by id, any other by hash (internal/keys).
	r, err := e.blobs.Open(context.Background(), "files/t/"+f.SourceHash[:2]+"/"+f.SourceHash+"/"+f.ID, 0)
	if errors.Is(err, blob.ErrNotFound) {
		r, err = e.blobs.Open(context.Background(), "files/t/streamed/"+f.ID, 0)
	}
	if err != nil {
		e.t.Fatalf("content of %s: %v", f.ID, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// parts counts the part PUTs a client sends, wherever they go (this
// server, or S3 for presigned part URLs), and the bytes they carry.
type parts struct {
	rt      http.RoundTripper
	n       atomic.Int64
	bytes   atomic.Int64
	chained atomic.Int64 // part PUTs to URLs of chained parts (a from)
}

func isPart(r *http.Request) bool {
	return r.Method == http.MethodPut && (strings.Contains(r.URL.Path, "/parts/") || r.URL.Query().Has("partNumber"))
}

func (p *parts) RoundTrip(r *http.Request) (*http.Response, error) {
	if isPart(r) {
		p.n.Add(1)
		p.bytes.Add(r.ContentLength)
		if r.URL.Query().Has("from") {
			p.chained.Add(1)
		}
	}
	return p.base().RoundTrip(r)
}

func (p *parts) base() http.RoundTripper {
	if p.rt == nil {
		return http.DefaultTransport
	}
	return p.rt
}

// writeRandom writes n random bytes to a new file and returns its path and content.
func writeRandom(t *testing.T, name string, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// snapshot returns the requests seen so far, by route.
func (e *env) snapshot() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.hits))
	for k, v := range e.hits {
		out[k] = v
	}
	return out
}
