package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/perseus-go/perseus"
)

// patchProxy stands between the CLI and `perseus serve`, recording the
// offsets of the tus PATCHes that pass and the bytes they carry. While
// holding, it passes the first `pass` bytes of the first PATCH on, closes
// ready, and holds the rest until its client goes away: then the server
// sees that request cut off after `pass` bytes.
type patchProxy struct {
	*httptest.Server
	holding atomic.Bool
	pass    int64
	ready   chan struct{}
	once    sync.Once

	mu      sync.Mutex
	offsets []int64
	bytes   int64
}

func newPatchProxy(t *testing.T, target string, pass int64) *patchProxy {
	rp := proxyTo(t, target)
	p := &patchProxy{pass: pass, ready: make(chan struct{})}
	p.holding.Store(true)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPatch || !strings.HasPrefix(r.URL.Path, "/api/v0/tus/") {
			rp.ServeHTTP(w, r)
			return
		}
		off, _ := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
		p.mu.Lock()
		p.offsets = append(p.offsets, off)
		p.bytes += r.ContentLength
		p.mu.Unlock()
		if p.holding.Swap(false) {
			r.Body = io.NopCloser(&holdAfter{r: r.Body, left: pass, reached: func() { p.once.Do(func() { close(p.ready) }) }, done: r.Context().Done()})
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *patchProxy) seen() ([]int64, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.offsets...), p.bytes
}

// holdAfter reads left bytes of r, then calls reached and blocks until done
// (the client went away), and fails.
type holdAfter struct {
	r       io.Reader
	left    int64
	reached func()
	done    <-chan struct{}
}

func (h *holdAfter) Read(b []byte) (int, error) {
	if h.left <= 0 {
		h.reached()
		<-h.done
		return 0, errors.New("the client went away")
	}
	n, err := h.r.Read(b[:min(int64(len(b)), h.left)])
	h.left -= int64(n)
	return n, err
}

// TestCLIUploadInterruptedBySIGINTResumesInOrder interrupts the default
// upload of a new large file (in order through tus) with SIGINT once the
// server has part of it, then runs the same command again: it resumes from
// the offset the server kept, sends only the rest, and the file ends
// uploaded with content that hashes to its sourceHash.
func TestCLIUploadInterruptedBySIGINTResumesInOrder(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data)
	const size = 24<<20 + 123
	const pass = 9 << 20
	path, hash := writeRandom(t, t.TempDir(), "in-order.bin", size)
	proxy := newPatchProxy(t, srv.URL, pass)
	via := &serverProc{URL: proxy.URL, Key: srv.Key}
	args := []string{"file", "upload", path, "--part-size", "5MiB", "--json"}

	interruptCLI(t, via, args, proxy.ready) // once the server has pass bytes of the first PATCH

	before, _ := proxy.seen()
	stdout, stderr, code := cli(t, via, args...)
	if code != 0 {
		t.Fatalf("resumed upload: exit %d: %s", code, stderr)
	}
	var f perseus.File
	if err := json.Unmarshal([]byte(stdout), &f); err != nil || f.Status != perseus.StatusUploaded || f.SourceHash != hash {
		t.Fatalf("resumed upload printed %q (%v), want the file uploaded", stdout, err)
	}
	offsets, _ := proxy.seen()
	resumed := offsets[len(before):]
	if len(before) != 1 || len(resumed) != 2 || resumed[0] != pass || resumed[1] != size-1<<20 {
		t.Errorf("PATCHes at %v, then at %v; want [0], then [%d %d]: the rest from where the server's bytes end", before, resumed, pass, size-1<<20)
	}
	verifyBlob(t, data, hash)
}
