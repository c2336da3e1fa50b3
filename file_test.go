package perseus

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	testHash    = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	testCreated = "2026-11-26T20:06:49.123Z"
)

var testCreatedAt = time.Date(2026, 11, 26, 20, 6, 49, 123_000_000, time.UTC)

func TestCreateFile_sendsNameAndHashAndDecodesAnswer(t *testing.T) {
	client, mux, _ := setup(t)
	mux.HandleFunc("/api/v0/file", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPost)
		testJSONBody(t, r, `{"name":"report.pdf","sourceHash":"`+testHash+`"}`)
		writeJSON(w, http.StatusCreated, `{
			"file": {"id":"f1","name":"report.pdf","status":"pending","createdAt":"`+testCreated+`","extra":true},
			"uploadUrl": "http://up/upload/f1?sig=s",
			"maxFileSize": 1024}`)
	})

	got, err := client.File.CreateFile(t.Context(), "report.pdf", testHash)
	if err != nil {
		t.Fatalf("CreateFile: %v", err)
	}
	want := &CreateFileResult{
		File:        &File{ID: "f1", Name: "report.pdf", Status: StatusPending, CreatedAt: testCreatedAt},
		UploadURL:   "http://up/upload/f1?sig=s",
		MaxFileSize: 1024,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreateFile mismatch (-want +got):\n%s", diff)
	}
}

func TestCreateFile_acceptsStatusOK(t *testing.T) {
	client, mux, _ := setup(t)
	mux.HandleFunc("POST /api/v0/file", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"file":{"id":"f1","status":"pending"},"uploadUrl":"http://up/x"}`)
	})
	got, err := client.File.CreateFile(t.Context(), "a", testHash)
	if err != nil {
		t.Fatalf("CreateFile: %v", err)
	}
	if got.File.ID != "f1" || got.UploadURL != "http://up/x" {
		t.Errorf("CreateFile = %+v, want file f1 and its upload URL", got)
	}
}

func TestCreateFile_errorAnswers(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		sentinel error
		wantMsg  string
		wantCode string
	}{
		{"conflict", http.StatusConflict, `{"message":"already uploaded","code":"file_exists","file":{"id":"f0"}}`,
			ErrConflict, "already uploaded", "file_exists"},
		{"bad request", http.StatusBadRequest, `{"message":"sourceHash must be 64 hex"}`,
			nil, "sourceHash must be 64 hex", ""},
		{"unauthorized", http.StatusUnauthorized, `{"message":"missing or unknown API key"}`,
			ErrUnauthorized, "missing or unknown API key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			mux.HandleFunc("POST /api/v0/file", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.status, tt.body)
			})
			res, err := client.File.CreateFile(t.Context(), "a", "bad")
			if res != nil {
				t.Errorf("CreateFile result = %+v, want nil", res)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.sentinel)
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("CreateFile error %v is not an *APIError", err)
			}
			if ae.StatusCode != tt.status || ae.Message != tt.wantMsg || ae.Code != tt.wantCode {
				t.Errorf("APIError = %+v, want status %d, message %q, code %q", ae, tt.status, tt.wantMsg, tt.wantCode)
			}
		})
	}
}

func TestFindFiles_sendsOnlyTheListsGiven(t *testing.T) {
	tests := []struct {
		name string
		q    FindQuery
		want string
	}{
		{"ids", FindQuery{IDs: []string{"a", "b"}}, `{"ids":["a","b"]}`},
		{"hashes", FindQuery{SourceHashes: []string{testHash}}, `{"sourceHashes":["` + testHash + `"]}`},
		{"both", FindQuery{IDs: []string{"a"}, SourceHashes: []string{testHash}}, `{"ids":["a"],"sourceHashes":["` + testHash + `"]}`},
		{"neither", FindQuery{}, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			mux.HandleFunc("/api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
				testMethod(t, r, http.MethodPost)
				testJSONBody(t, r, tt.want)
				writeJSON(w, http.StatusOK, `{"files":[]}`)
			})
			if _, err := client.File.FindFiles(t.Context(), tt.q); err != nil {
				t.Fatalf("FindFiles: %v", err)
			}
		})
	}
}

func TestFindFiles_decodesFiles(t *testing.T) {
	client, mux, _ := setup(t)
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"files":[
			{"id":"a","name":"a.txt","status":"uploaded","createdAt":"`+testCreated+`","sourceHash":"`+testHash+`","size":0},
			{"id":"b","name":"b.txt","status":"failed","createdAt":"`+testCreated+`","reason":"hash mismatch"}]}`)
	})
	got, err := client.File.FindFiles(t.Context(), FindQuery{IDs: []string{"a", "b"}})
	if err != nil {
		t.Fatalf("FindFiles: %v", err)
	}
	want := []*File{
		{ID: "a", Name: "a.txt", Status: StatusUploaded, CreatedAt: testCreatedAt, SourceHash: testHash},
		{ID: "b", Name: "b.txt", Status: StatusFailed, CreatedAt: testCreatedAt, Reason: "hash mismatch"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FindFiles mismatch (-want +got):\n%s", diff)
	}
}

func TestFindFiles_nothingMatchedIsEmptyNonNilSlice(t *testing.T) {
	for _, body := range []string{`{"files":[]}`, `{"files":null}`, `{}`} {
		t.Run(body, func(t *testing.T) {
			client, mux, _ := setup(t)
			mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, body)
			})
			got, err := client.File.FindFiles(t.Context(), FindQuery{IDs: []string{"nope"}})
			if err != nil {
				t.Fatalf("FindFiles: %v", err)
			}
			if got == nil || len(got) != 0 {
				t.Errorf("FindFiles = %#v, want an empty non-nil slice", got)
			}
		})
	}
}

func TestFindFiles_malformedAnswerIsError(t *testing.T) {
	client, mux, _ := setup(t)
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"files":[`)
	})
	if got, err := client.File.FindFiles(t.Context(), FindQuery{}); err == nil {
		t.Errorf("FindFiles = %v, nil; want a decode error", got)
	}
}

func TestFindFile(t *testing.T) {
	tests := []struct {
		name  string
		files string
		want  *File
	}{
		{"found", `[{"id":"f1","name":"a","status":"pending","createdAt":"` + testCreated + `"}]`,
			&File{ID: "f1", Name: "a", Status: StatusPending, CreatedAt: testCreatedAt}},
		{"not matched", `[]`, nil},
		{"only other files", `[{"id":"other"}]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
				testJSONBody(t, r, `{"ids":["f1"]}`)
				writeJSON(w, http.StatusOK, `{"files":`+tt.files+`}`)
			})
			got, err := client.File.FindFile(t.Context(), "f1")
			if err != nil {
				t.Fatalf("FindFile: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FindFile mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFindFile_errorIsReturned(t *testing.T) {
	client, mux, _ := setup(t)
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusUnauthorized, `{"message":"no key"}`)
	})
	if f, err := client.File.FindFile(t.Context(), "f1"); !errors.Is(err, ErrUnauthorized) || f != nil {
		t.Errorf("FindFile = %v, %v; want nil, ErrUnauthorized", f, err)
	}
}

func TestDeleteFile_succeedsOnNoContentAndOK(t *testing.T) {
	for _, status := range []int{http.StatusNoContent, http.StatusOK} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			client, mux, _ := setup(t)
			var calls atomic.Int32
			mux.HandleFunc("/api/v0/file/f1", func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				testMethod(t, r, http.MethodDelete)
				testHeader(t, r, "Authorization", "Bearer "+testKey)
				w.WriteHeader(status)
			})
			if err := client.File.DeleteFile(t.Context(), "f1"); err != nil {
				t.Fatalf("DeleteFile: %v", err)
			}
			if calls.Load() != 1 {
				t.Errorf("DELETE requests = %d, want 1", calls.Load())
			}
		})
	}
}

func TestDeleteFile_escapesID(t *testing.T) {
	client, mux, _ := setup(t)
	mux.HandleFunc("DELETE /api/v0/file/{id}", func(w http.ResponseWriter, r *http.Request) {
		if got := r.PathValue("id"); got != "a/b?c" {
			t.Errorf("id = %q, want %q", got, "a/b?c")
		}
		w.WriteHeader(http.StatusNoContent)
	})
	if err := client.File.DeleteFile(t.Context(), "a/b?c"); err != nil {
		t.Fatalf("DeleteFile: %v", err)
	}
}

func TestDeleteFile_unknownIsErrNotFound(t *testing.T) {
	client, mux, _ := setup(t)
	mux.HandleFunc("DELETE /api/v0/file/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, `{"message":"no file with this id","code":"file_not_found"}`)
	})
	err := client.File.DeleteFile(t.Context(), "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeleteFile = %v, want ErrNotFound", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Message != "no file with this id" {
		t.Errorf("DeleteFile error = %#v, want an *APIError with the server's message", err)
	}
}
