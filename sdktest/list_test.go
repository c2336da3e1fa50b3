package sdktest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/server"
	"github.com/perseus-go/perseus/store/blob/local"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// realServer runs a Perseus server over loopback on SQLite and a local
// directory in t.TempDir(), accepting key "key-a" (tenant a) and "key-b"
// (tenant b), and returns its URL and the directory of its blobs.
func realServer(t *testing.T) (url, blobDir string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobDir = filepath.Join(dir, "blobs")
	blobs, err := local.Open(blobDir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Meta: db, Blobs: blobs, SigningKey: bytes.Repeat([]byte("k"), 32),
		StaticKeys: map[string]string{"key-a": "a", "key-b": "b"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL, blobDir
}

// clientFor returns a client of the server at url with key, and a counter
// of the requests it sends.
func clientFor(t *testing.T, url, key string) (*perseus.Client, *atomic.Int64) {
	t.Helper()
	n := &atomic.Int64{}
	c, err := perseus.NewClient(perseus.WithHost(url), perseus.WithAPIKey(key),
		perseus.WithHTTPClient(&http.Client{Transport: countRequests{n, http.DefaultTransport}}))
	if err != nil {
		t.Fatal(err)
	}
	return c, n
}

type countRequests struct {
	n  *atomic.Int64
	rt http.RoundTripper
}

func (c countRequests) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// uploadBytes uploads content under name and returns the file.
func uploadBytes(t *testing.T, c *perseus.Client, name string, content []byte) *perseus.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := c.File.UploadFile(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func collect(t *testing.T, seq func(func(*perseus.File, error) bool)) []string {
	t.Helper()
	var names []string
	for f, err := range seq {
		if err != nil {
			t.Fatalf("ListFiles: %v", err)
		}
		names = append(names, f.Name)
	}
	return names
}

func TestListFilesIteratesNewestFirstAcrossPages(t *testing.T) {
	url, _ := realServer(t)
	c, requests := clientFor(t, url, "key-a")
	ctx := context.Background()
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("doc-%d.txt", i)
		uploadBytes(t, c, name, []byte(name))
		want = slices.Insert(want, 0, name)
	}
	pending, err := c.File.CreateFile(ctx, "pending.txt", sha256Hex([]byte("never sent")))
	if err != nil {
		t.Fatal(err)
	}

	requests.Store(0)
	all := collect(t, c.File.ListFiles(ctx, perseus.ListOptions{PageSize: 3}))
	if !slices.Equal(all, slices.Insert(slices.Clone(want), 0, "pending.txt")) {
		t.Errorf("ListFiles = %v", all)
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("8 files in pages of 3 took %d requests, want 3", n)
	}
	if got := collect(t, c.File.ListFiles(ctx, perseus.ListOptions{Status: perseus.StatusUploaded, PageSize: 2})); !slices.Equal(got, want) {
		t.Errorf("uploaded only = %v, want %v", got, want)
	}
	if got := collect(t, c.File.ListFiles(ctx, perseus.ListOptions{NamePrefix: "pend"})); len(got) != 1 || got[0] != pending.File.Name {
		t.Errorf("prefix pend = %v", got)
	}

	// Stopping the loop stops the fetching: two files from pages of two is one request.
	requests.Store(0)
	n := 0
	for _, err := range c.File.ListFiles(ctx, perseus.ListOptions{PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 2 {
			break
		}
	}
	if r := requests.Load(); r != 1 {
		t.Errorf("breaking after the first page made %d requests, want 1", r)
	}

	other, _ := clientFor(t, url, "key-b")
	if got := collect(t, other.File.ListFiles(ctx, perseus.ListOptions{})); len(got) != 0 {
		t.Errorf("tenant b lists tenant a's files: %v", got)
	}
}

func TestListFilesEndsWithTheError(t *testing.T) {
	url, _ := realServer(t)
	bad, _ := clientFor(t, url, "wrong-key")
	var errs []error
	for f, err := range bad.File.ListFiles(context.Background(), perseus.ListOptions{}) {
		if f != nil {
			t.Errorf("a file with a bad key: %+v", f)
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], perseus.ErrUnauthorized) {
		t.Errorf("errors = %v, want one ErrUnauthorized", errs)
	}
	c, _ := clientFor(t, url, "key-a")
	_, err := c.File.ListFilesPage(context.Background(), perseus.ListOptions{PageSize: 5000}, "")
	var ae *perseus.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || ae.Code != "invalid_limit" {
		t.Errorf("page size 5000: %v, want 400 invalid_limit", err)
	}
}
