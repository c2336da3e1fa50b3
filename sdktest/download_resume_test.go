package sdktest

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/perseus-go/perseus"
)

// rangeRecorder forwards to a server and records the Range of each request.
type rangeRecorder struct {
	mu     sync.Mutex
	ranges []string
	rt     http.RoundTripper
}

func (r *rangeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/content") {
		r.mu.Lock()
		r.ranges = append(r.ranges, req.Header.Get("Range"))
		r.mu.Unlock()
	}
	return r.rt.RoundTrip(req)
}

func TestDownloadFileToContinuesAPartialFileAndVerifiesTheWhole(t *testing.T) {
	url, _ := realServer(t)
	c, _ := clientFor(t, url, "key-a")
	ctx := context.Background()
	content := make([]byte, 1<<20+3)
	rand.Read(content)
	f := uploadBytes(t, c, "data.bin", content)

	rec := &rangeRecorder{rt: http.DefaultTransport}
	rc, err := perseus.NewClient(perseus.WithHost(url), perseus.WithAPIKey("key-a"), perseus.WithHTTPClient(&http.Client{Transport: rec}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	part := filepath.Join(dir, perseus.PartialName(f.ID))
	os.WriteFile(part, content[:4000], 0o644)
	var last, total int64
	n, err := rc.File.DownloadFileTo(ctx, f.ID, filepath.Join(dir, "out.bin"),
		perseus.WithDownloadProgress(func(done, size int64) { last, total = done, size }))
	if err != nil || n != int64(len(content)) {
		t.Fatalf("DownloadFileTo = %d, %v", n, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out.bin")); string(got) != string(content) {
		t.Error("the resumed download wrote other bytes")
	}
	if len(rec.ranges) != 1 || rec.ranges[0] != "bytes=4000-" {
		t.Errorf("ranges asked: %q, want one bytes=4000-", rec.ranges)
	}
	if last != int64(len(content)) || total != int64(len(content)) {
		t.Errorf("last progress %d of %d, want %d of %d", last, total, len(content), len(content))
	}
	if _, err := os.Stat(part); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the partial file is left: %v", err)
	}

	// A partial file of other bytes does not verify: it goes, and nothing is written.
	os.WriteFile(part, []byte("not the beginning"), 0o644)
	if _, err := rc.File.DownloadFileTo(ctx, f.ID, filepath.Join(dir, "bad.bin")); !errors.Is(err, perseus.ErrChecksum) {
		t.Errorf("DownloadFileTo over a wrong partial file: %v, want ErrChecksum", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("after a mismatch the directory holds %v, want out.bin only", entries)
	}

	// A partial file longer than the content: the server answers 416, it starts over.
	os.WriteFile(part, make([]byte, len(content)+10), 0o644)
	if n, err := rc.File.DownloadFileTo(ctx, f.ID, filepath.Join(dir, "again.bin")); err != nil || n != int64(len(content)) {
		t.Errorf("DownloadFileTo over a too long partial file: %d, %v", n, err)
	}
}

func TestAPIErrorCarriesTheRequestID(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req-42")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"code":"file_not_found","message":"no file with this id"}`))
	}))
	defer ts.Close()
	c, err := perseus.NewClient(perseus.WithHost(ts.URL), perseus.WithAPIKey("k"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.File.DeleteFile(context.Background(), "x")
	var ae *perseus.APIError
	if !errors.As(err, &ae) || ae.RequestID != "req-42" || !strings.Contains(err.Error(), "(request id req-42)") {
		t.Errorf("DeleteFile = %v, want an APIError with request id req-42", err)
	}
}
