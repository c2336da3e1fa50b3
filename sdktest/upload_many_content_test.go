package sdktest

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/perseus-go/perseus"
)

// variedFiles writes n files of distinct content, 1 byte to about 200 KiB,
// into a directory and returns their paths and contents.
func variedFiles(t *testing.T, n int) ([]string, [][]byte) {
	dir := t.TempDir()
	var paths []string
	var contents [][]byte
	for i := range n {
		b := bytes.Repeat(fmt.Appendf(nil, "file %d ", i), 1+i*i*37%25000)
		p := filepath.Join(dir, fmt.Sprintf("f%03d.txt", i))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths, contents = append(paths, p), append(contents, b)
	}
	return paths, contents
}

// TestUploadFiles_sendsSmallFilesInBatchUploads: on the embedded default,
// the bytes of small new files go many per request (POST
// /api/v0/file/batch/content), none in a PUT of its own, and every file
// ends uploaded with its content; content the server had sends nothing.
func TestUploadFiles_sendsSmallFilesInBatchUploads(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(nil)
	paths, contents := variedFiles(t, 60)
	known, err := c.File.UploadFile(t.Context(), paths[7])
	if err != nil {
		t.Fatal(err)
	}
	puts := e.count("PUT upload")
	res := c.File.UploadFiles(t.Context(), paths, perseus.WithConcurrency(4))
	for i, r := range res {
		if r.Err != nil || r.File == nil || r.File.Status != perseus.StatusUploaded || r.Known != (i == 7) {
			t.Fatalf("%s: %+v", filepath.Base(paths[i]), r)
		}
		if !bytes.Equal(e.stored(r.File), contents[i]) {
			t.Errorf("%s: stored content differs", filepath.Base(paths[i]))
		}
	}
	if res[7].File.ID != known.ID {
		t.Errorf("known content answered with %s, want the file %s", res[7].File.ID, known.ID)
	}
	if n := e.count("PUT upload") - puts; n != 0 {
		t.Errorf("%d PUTs for small files the server takes in batches; want none", n)
	}
	if n := e.count("POST /api/v0/file/batch/content"); n < 2 || n > 20 {
		t.Errorf("%d batch uploads for 59 new files at concurrency 4; want a few", n)
	}
}

// TestUploadFiles_putsEachFileWhereBatchUploadsAreNotRouted: a server that
// says batchContent but does not route it (a proxy before it) gets one
// batch upload, then every file PUT alone, all uploaded.
func TestUploadFiles_putsEachFileWhereBatchUploadsAreNotRouted(t *testing.T) {
	e := newEnv(t, nil)
	e.inject(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/v0/file/batch/content" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"code":"not_found","message":"no such endpoint"}`))
		return true
	})
	paths, contents := variedFiles(t, 30)
	c := e.client(nil)
	res := c.File.UploadFiles(t.Context(), paths, perseus.WithConcurrency(1))
	for i, r := range res {
		if r.Err != nil || r.File == nil || !bytes.Equal(e.stored(r.File), contents[i]) {
			t.Fatalf("%s: %+v", filepath.Base(paths[i]), r)
		}
	}
	if n := e.count("POST /api/v0/file/batch/content"); n != 1 {
		t.Errorf("%d batch uploads to a server that does not route them; want the first only", n)
	}
	if n := e.count("PUT upload"); n != 30 {
		t.Errorf("%d PUTs, want one per file (30)", n)
	}
}
