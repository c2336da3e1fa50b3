package perseus

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestUploadFiles_findsEveryHashUpFrontInChunksOf1000(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 1001 {
		p := filepath.Join(dir, fmt.Sprint(i))
		os.WriteFile(p, []byte(fmt.Sprint("content ", i)), 0o600)
		paths = append(paths, p)
	}
	client, mux, _ := setup(t)
	var mu sync.Mutex
	var sizes []int
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		var q FindQuery
		json.NewDecoder(r.Body).Decode(&q)
		mu.Lock()
		sizes = append(sizes, len(q.SourceHashes))
		mu.Unlock()
		var files []*File
		for i, h := range q.SourceHashes {
			files = append(files, &File{ID: fmt.Sprint(i), Name: "x", Status: StatusUploaded, SourceHash: h, CreatedAt: testCreatedAt})
		}
		b, _ := json.Marshal(map[string]any{"files": files})
		writeJSON(w, 200, string(b))
	})
	mux.HandleFunc("POST /api/v0/file", func(w http.ResponseWriter, r *http.Request) {
		t.Error("create called for content the server has")
	})
	res := client.File.UploadFiles(t.Context(), paths, WithConcurrency(8))
	for i, r := range res {
		if r.Err != nil || !r.Known || r.Path != paths[i] || r.File.SourceHash != sha256Hex([]byte(fmt.Sprint("content ", i))) {
			t.Fatalf("result %d = %+v, want the known file of its content", i, r)
		}
	}
	if len(sizes) != 2 || sizes[0]+sizes[1] != 1001 || max(sizes[0], sizes[1]) != 1000 {
		t.Errorf("find calls with %v hashes, want 2 calls of at most 1000 covering all 1001", sizes)
	}
}

// TestUploadFiles_aFailedFileStopsNoOther: one file's upload failing is
// that file's result; the others, sent alongside, still go through.
func TestUploadFiles_aFailedFileStopsNoOther(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"a", "refused", "b", "c"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("content of "+name), 0o600)
		paths = append(paths, p)
	}
	client, mux, serverURL := setup(t)
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"files":[]}`)
	})
	mux.HandleFunc("POST /api/v0/file", func(w http.ResponseWriter, r *http.Request) {
		var c createCall
		json.NewDecoder(r.Body).Decode(&c)
		file, _ := json.Marshal(File{ID: c.Name, Name: c.Name, Status: StatusPending, CreatedAt: testCreatedAt})
		writeJSON(w, http.StatusCreated, `{"file":`+string(file)+`,"uploadUrl":"`+serverURL+baseURLPath+"/upload/"+c.Name+`"}`)
	})
	mux.HandleFunc("PUT /upload/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "refused" {
			writeJSON(w, http.StatusBadRequest, `{"message":"refused"}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"id":"`+r.PathValue("id")+`","status":"uploaded"}`)
	})
	res := client.File.UploadFiles(t.Context(), paths, WithConcurrency(2))
	for i, r := range res {
		name := filepath.Base(paths[i])
		switch {
		case name == "refused" && !errors.Is(r.Err, ErrUploadFailed):
			t.Errorf("%s: %+v, want ErrUploadFailed", name, r)
		case name != "refused" && (r.Err != nil || r.File == nil || r.File.ID != name || r.File.Status != StatusUploaded):
			t.Errorf("%s: %+v, want uploaded", name, r)
		}
	}
}
