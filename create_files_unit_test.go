package perseus

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// batchServer is a fake server offering batch creates of up to most files,
// answering each file with answer (by its name), and taking PUTs. It
// records the size of every batch and every single create.
type batchServer struct {
	mu      sync.Mutex
	batches []int
	singles []string
	puts    []string
}

func newBatchServer(t *testing.T, most int, answer func(name string) (int, string)) (*Client, *batchServer) {
	t.Helper()
	client, mux, serverURL := setup(t)
	b := &batchServer{}
	mux.HandleFunc("GET /api/v0/limits", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"maxFileSize": 1048576, "batchCreate": %d}`, most))
	})
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"files":[]}`)
	})
	created := func(name string) string {
		file, _ := json.Marshal(File{ID: name, Name: name, Status: StatusPending, CreatedAt: testCreatedAt})
		return `{"file":` + string(file) + `,"uploadUrl":"` + serverURL + baseURLPath + "/upload/" + name + `"}`
	}
	mux.HandleFunc("POST /api/v0/file/batch", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Files []createCall }
		json.NewDecoder(r.Body).Decode(&req)
		b.mu.Lock()
		b.batches = append(b.batches, len(req.Files))
		b.mu.Unlock()
		var out []string
		for _, f := range req.Files {
			status, body := answer(f.Name)
			if body == "" {
				body = created(f.Name)
			}
			out = append(out, fmt.Sprintf(`{"status": %d, %s`, status, strings.TrimPrefix(body, "{")))
		}
		w.Header().Set("X-Request-Id", "batch-1")
		writeJSON(w, http.StatusOK, `{"results": [`+strings.Join(out, ",")+`]}`)
	})
	mux.HandleFunc("POST /api/v0/file", func(w http.ResponseWriter, r *http.Request) {
		var c createCall
		json.NewDecoder(r.Body).Decode(&c)
		b.mu.Lock()
		b.singles = append(b.singles, c.Name)
		b.mu.Unlock()
		writeJSON(w, http.StatusCreated, created(c.Name))
	})
	mux.HandleFunc("PUT /upload/{id}", func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.puts = append(b.puts, r.PathValue("id"))
		b.mu.Unlock()
		writeJSON(w, http.StatusOK, `{"id":"`+r.PathValue("id")+`","name":"x","status":"uploaded","createdAt":"2026-11-26T20:06:49.123Z"}`)
	})
	return client, b
}

// smallFiles writes n files named 0…n-1 of distinct content and returns their paths.
func smallFiles(t *testing.T, n int) []string {
	dir := t.TempDir()
	var paths []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprint(i))
		os.WriteFile(p, []byte(fmt.Sprint("small content ", i)), 0o600)
		paths = append(paths, p)
	}
	return paths
}

func TestUploadFiles_createsSmallFilesInBatchesOfWhatTheServerTakes(t *testing.T) {
	client, b := newBatchServer(t, 4, func(string) (int, string) { return http.StatusCreated, "" })
	paths := smallFiles(t, 11)
	res := client.File.UploadFiles(t.Context(), paths, WithConcurrency(2))
	for i, r := range res {
		if r.Err != nil || r.File == nil || r.File.Status != StatusUploaded || r.Known {
			t.Errorf("file %d: %+v, want uploaded", i, r)
		}
	}
	// The first batch is what goes at once (2), the others up to the most (4).
	if !slices.Equal(b.batches, []int{2, 4, 4, 1}) || len(b.singles) != 0 || len(b.puts) != 11 {
		t.Errorf("batches %v, single creates %v, %d PUTs; want batches [2 4 4 1], no single create, 11 PUTs", b.batches, b.singles, len(b.puts))
	}
}

func TestUploadFiles_answersEachFileAsItsBatchResultSays(t *testing.T) {
	answers := map[string]func() (int, string){
		"known": func() (int, string) {
			return http.StatusConflict, `{"code":"file_exists","message":"already uploaded","file":{"id":"old","name":"known","status":"uploaded","createdAt":"2026-11-26T20:06:49.123Z"}}`
		},
		"full": func() (int, string) {
			return http.StatusInsufficientStorage, `{"code":"quota_exceeded","message":"you keep 3 files and your quota is 3"}`
		},
		"flaky": func() (int, string) {
			return http.StatusServiceUnavailable, `{"code":"unavailable","message":"retry later"}`
		},
	}
	client, b := newBatchServer(t, 10, func(name string) (int, string) {
		if a := answers[name]; a != nil {
			return a()
		}
		return http.StatusCreated, ""
	})
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"new", "known", "full", "flaky"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("content of "+name), 0o600)
		paths = append(paths, p)
	}
	res := client.File.UploadFiles(t.Context(), paths, WithConcurrency(4))
	if r := res[0]; r.Err != nil || r.File.Status != StatusUploaded {
		t.Errorf("new: %+v, want uploaded", r)
	}
	if r := res[1]; r.Err != nil || !r.Known || r.File.ID != "old" {
		t.Errorf("known: %+v, want the file the batch named, known", r)
	}
	var ae *APIError
	if r := res[2]; !errors.As(r.Err, &ae) || ae.StatusCode != 507 || ae.Code != "quota_exceeded" || ae.RequestID != "batch-1" ||
		!strings.Contains(r.Err.Error(), "507 you keep 3 files and your quota is 3") || r.File != nil {
		t.Errorf("over the quota: %+v (%v), want the batch's 507 as an *APIError", r, r.Err)
	}
	if r := res[3]; r.Err != nil || r.File.Status != StatusUploaded {
		t.Errorf("flaky: %+v, want uploaded after a create of its own", r)
	}
	if !slices.Equal(b.singles, []string{"flaky"}) || !slices.Equal(b.batches, []int{4}) {
		t.Errorf("single creates %v, batches %v; want one batch, and a single create for the 503 only", b.singles, b.batches)
	}
}

// TestUploadFiles_fallsBackToSingleCreatesWhereBatchIsNotRouted: a server
// whose limits say batchCreate but which answers 404 to it (a proxy that
// does not route it) gets one batch create, then single creates.
func TestUploadFiles_fallsBackToSingleCreatesWhereBatchIsNotRouted(t *testing.T) {
	client, mux, serverURL := setup(t)
	mux.HandleFunc("GET /api/v0/limits", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"batchCreate": 2}`)
	})
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"files":[]}`)
	})
	var mu sync.Mutex
	batches, singles := 0, 0
	mux.HandleFunc("POST /api/v0/file/batch", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		batches++
		mu.Unlock()
		writeJSON(w, http.StatusNotFound, `{"code":"not_found","message":"no such endpoint"}`)
	})
	mux.HandleFunc("POST /api/v0/file", func(w http.ResponseWriter, r *http.Request) {
		var c createCall
		json.NewDecoder(r.Body).Decode(&c)
		mu.Lock()
		singles++
		mu.Unlock()
		writeJSON(w, http.StatusCreated, `{"file":{"id":"`+c.Name+`","name":"x","status":"pending","createdAt":"2026-11-26T20:06:49.123Z"},"uploadUrl":"`+serverURL+baseURLPath+`/upload/`+c.Name+`"}`)
	})
	mux.HandleFunc("PUT /upload/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"id":"`+r.PathValue("id")+`","name":"x","status":"uploaded","createdAt":"2026-11-26T20:06:49.123Z"}`)
	})
	res := client.File.UploadFiles(t.Context(), smallFiles(t, 5), WithConcurrency(1))
	for i, r := range res {
		if r.Err != nil || r.File.Status != StatusUploaded {
			t.Errorf("file %d: %+v", i, r)
		}
	}
	if batches != 1 || singles != 5 {
		t.Errorf("%d batch creates, %d single creates; want 1 and 5", batches, singles)
	}
}

func TestCreateFiles_chunksByTheServersMostAndKeepsTheOrder(t *testing.T) {
	client, b := newBatchServer(t, 2, func(name string) (int, string) {
		if name == "bad" {
			return http.StatusBadRequest, `{"code":"invalid_name","message":"bad name"}`
		}
		return http.StatusCreated, ""
	})
	files := []NewFile{{"a", testHash}, {"bad", testHash}, {"c", testHash}, {"d", testHash}, {"e", testHash}}
	res, err := client.File.CreateFiles(t.Context(), files)
	if err != nil || len(res) != 5 {
		t.Fatalf("CreateFiles: %d results, %v", len(res), err)
	}
	for i, r := range res {
		if i == 1 {
			if !errors.As(r.Err, new(*APIError)) || r.File != nil || r.UploadURL != "" {
				t.Errorf("bad: %+v, want its 400 alone", r)
			}
			continue
		}
		if r.Err != nil || r.File.ID != files[i].Name || r.UploadURL == "" {
			t.Errorf("result %d: %+v, want the record of %s", i, r, files[i].Name)
		}
	}
	if !slices.Equal(b.batches, []int{2, 2, 1}) {
		t.Errorf("batches %v, want [2 2 1]", b.batches)
	}
}

// TestCreateFiles_createsOneByOneOnAContractOnlyServer: without limits
// (a v0 server), CreateFiles is CreateFile for each file.
func TestCreateFiles_createsOneByOneOnAContractOnlyServer(t *testing.T) {
	client, mux, _ := setup(t)
	var names []string
	mux.HandleFunc("POST /api/v0/file", func(w http.ResponseWriter, r *http.Request) {
		var c createCall
		json.NewDecoder(r.Body).Decode(&c)
		names = append(names, c.Name)
		if c.Name == "known" {
			writeJSON(w, http.StatusConflict, `{"message":"exists"}`)
			return
		}
		writeJSON(w, http.StatusCreated, `{"file":{"id":"`+c.Name+`","name":"x","status":"pending","createdAt":"2026-11-26T20:06:49.123Z"},"uploadUrl":"http://up/`+c.Name+`"}`)
	})
	res, err := client.File.CreateFiles(t.Context(), []NewFile{{"a", testHash}, {"known", testHash}})
	if err != nil || len(res) != 2 || res[0].Err != nil || res[0].File.ID != "a" || !errors.Is(res[1].Err, ErrConflict) {
		t.Fatalf("CreateFiles = %+v, %v", res, err)
	}
	if !slices.Equal(names, []string{"a", "known"}) {
		t.Errorf("single creates %v", names)
	}
}
