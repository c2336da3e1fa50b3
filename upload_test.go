package perseus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// uploadQuery stands for the credential of a presigned URL: it must never
// show in an error.
const uploadQuery = "sig=SECRET&exp=9"

// writeTemp writes content to a new file named name and returns its path.
func writeTemp(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// createCall is what a create request asked for.
type createCall struct {
	Name       string `json:"name"`
	SourceHash string `json:"sourceHash"`
}

// handleCreate answers create with a pending file f1 whose upload URL is
// uploadURL (default: /upload/f1 on the test server) and records the requests.
func handleCreate(t *testing.T, mux *http.ServeMux, uploadURL string) func() []createCall {
	var mu sync.Mutex
	var calls []createCall
	mux.HandleFunc("POST /api/v0/file", func(w http.ResponseWriter, r *http.Request) {
		var c createCall
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			t.Errorf("create body: %v", err)
		}
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
		file, _ := json.Marshal(File{ID: "f1", Name: c.Name, Status: StatusPending, CreatedAt: testCreatedAt})
		writeJSON(w, http.StatusCreated, `{"file":`+string(file)+`,"uploadUrl":"`+uploadURL+`"}`)
	})
	return func() []createCall { mu.Lock(); defer mu.Unlock(); return calls }
}

func uploadURLOf(serverURL string) string {
	return serverURL + baseURLPath + "/upload/f1?" + uploadQuery
}

func TestUploadFile_hashesCreatesAndPutsTheFile(t *testing.T) {
	content := []byte("hello, perseus\n")
	path := writeTemp(t, "notes.txt", content)
	client, mux, serverURL := setup(t)
	creates := handleCreate(t, mux, uploadURLOf(serverURL))
	mux.HandleFunc("/upload/f1", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, http.MethodPut)
		testHeader(t, r, "Authorization", "")
		testHeader(t, r, "Content-Length", strconv.Itoa(len(content)))
		if r.ContentLength != int64(len(content)) || len(r.TransferEncoding) != 0 {
			t.Errorf("ContentLength = %d, TransferEncoding = %v; want %d and none", r.ContentLength, r.TransferEncoding, len(content))
		}
		if r.URL.RawQuery != uploadQuery {
			t.Errorf("upload query = %q, want %q", r.URL.RawQuery, uploadQuery)
		}
		body, _ := io.ReadAll(r.Body)
		if string(body) != string(content) {
			t.Errorf("PUT body = %q, want %q", body, content)
		}
		writeJSON(w, http.StatusOK, `{"id":"f1","name":"notes.txt","status":"uploaded","createdAt":"`+testCreated+`"}`)
	})

	got, err := client.File.UploadFile(t.Context(), path)
	if err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	if diff := cmp.Diff([]createCall{{"notes.txt", sha256Hex(content)}}, creates()); diff != "" {
		t.Errorf("create requests mismatch (-want +got):\n%s", diff)
	}
	want := &File{ID: "f1", Name: "notes.txt", Status: StatusUploaded, CreatedAt: testCreatedAt}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UploadFile mismatch (-want +got):\n%s", diff)
	}
}

func TestUploadFile_returnsCreatedFileWhenPutAnswersNoFile(t *testing.T) {
	path := writeTemp(t, "a.bin", []byte("abc"))
	client, mux, serverURL := setup(t)
	creates := handleCreate(t, mux, uploadURLOf(serverURL))
	mux.HandleFunc("PUT /upload/f1", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK) // as S3 answers a presigned PUT
	})
	got, err := client.File.UploadFile(t.Context(), path, WithName("named.bin"))
	if err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	if got.ID != "f1" || got.Status != StatusPending || got.Name != "named.bin" {
		t.Errorf("UploadFile = %+v, want the created pending file f1 named named.bin", got)
	}
	if c := creates(); len(c) != 1 || c[0].Name != "named.bin" {
		t.Errorf("create requests = %+v, want one with WithName's name", c)
	}
}

func TestUploadFile_conflictReturnsExistingFileWithoutPut(t *testing.T) {
	content := []byte("already there")
	path := writeTemp(t, "dup.txt", content)
	client, mux, _ := setup(t)
	mux.HandleFunc("POST /api/v0/file", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusConflict, `{"message":"a file with this content is already uploaded"}`)
	})
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		testJSONBody(t, r, `{"sourceHashes":["`+sha256Hex(content)+`"]}`)
		writeJSON(w, http.StatusOK, `{"files":[{"id":"p","status":"pending"},{"id":"u","name":"first.txt","status":"uploaded"}]}`)
	})
	mux.HandleFunc("/upload/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected %s %s: content already uploaded", r.Method, r.URL.Path)
	})
	got, err := client.File.UploadFile(t.Context(), path)
	if err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	if diff := cmp.Diff(&File{ID: "u", Name: "first.txt", Status: StatusUploaded}, got); diff != "" {
		t.Errorf("UploadFile mismatch (-want +got):\n%s", diff)
	}
}

func TestUploadFile_conflictButFindReturnsNothingIsErrNotFound(t *testing.T) {
	path := writeTemp(t, "dup.txt", []byte("x"))
	client, mux, _ := setup(t)
	mux.HandleFunc("POST /api/v0/file", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusConflict, `{"message":"exists"}`)
	})
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"files":[]}`)
	})
	if f, err := client.File.UploadFile(t.Context(), path); !errors.Is(err, ErrNotFound) {
		t.Errorf("UploadFile = %v, %v; want ErrNotFound", f, err)
	}
}

func TestUploadFile_failsBeforePut(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"create refused", http.StatusBadRequest, `{"message":"name must be 1 to 1024 bytes"}`},
		{"file larger than the server accepts", http.StatusCreated, `{"file":{"id":"f1"},"uploadUrl":"http://x/u","maxFileSize":2}`},
		{"answer without upload URL", http.StatusCreated, `{"file":{"id":"f1"}}`},
		{"answer without file", http.StatusCreated, `{"uploadUrl":"http://x/u"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, "a.txt", []byte("three"))
			client, mux, _ := setup(t)
			mux.HandleFunc("POST /api/v0/file", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.status, tt.body)
			})
			if f, err := client.File.UploadFile(t.Context(), path); err == nil {
				t.Errorf("UploadFile = %+v, nil; want an error", f)
			}
		})
	}
}

func TestUploadFile_missingFileIsErrNotExist(t *testing.T) {
	client, _, _ := setup(t) // any request fails the test: nothing is registered
	_, err := client.File.UploadFile(t.Context(), filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("UploadFile = %v, want fs.ErrNotExist", err)
	}
}

func TestUploadFile_refusedPutIsErrUploadFailed(t *testing.T) {
	path := writeTemp(t, "a.txt", []byte("abc"))
	client, mux, serverURL := setup(t)
	handleCreate(t, mux, uploadURLOf(serverURL))
	mux.HandleFunc("PUT /upload/f1", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusUnprocessableEntity, `{"message":"bytes do not hash to sourceHash","code":"hash_mismatch"}`)
	})
	_, err := client.File.UploadFile(t.Context(), path)
	if !errors.Is(err, ErrUploadFailed) {
		t.Fatalf("UploadFile = %v, want ErrUploadFailed", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "hash_mismatch" || ae.Message != "bytes do not hash to sourceHash" {
		t.Errorf("UploadFile error = %v, want an *APIError with the server's code and message", err)
	}
}

func TestUploadFile_putErrorsDoNotShowTheUploadURLCredential(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // connections to it are refused
	tests := []struct {
		name      string
		uploadURL func(serverURL string) string
	}{
		{"expired URL", uploadURLOf},
		{"network error", func(string) string { return closed.URL + "/upload/f1?" + uploadQuery }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, "a.txt", []byte("abc"))
			client, mux, serverURL := setup(t)
			handleCreate(t, mux, tt.uploadURL(serverURL))
			mux.HandleFunc("PUT /upload/f1", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusForbidden, `{"message":"the upload URL has expired"}`)
			})
			_, err := client.File.UploadFile(t.Context(), path)
			if err == nil {
				t.Fatal("UploadFile succeeded, want an error")
			}
			if msg := err.Error(); strings.Contains(msg, "SECRET") || !strings.Contains(msg, "/upload/f1") {
				t.Errorf("error %q shows the URL's credential or not its path", msg)
			}
		})
	}
}

func TestUploadFile_progressReachesTotal(t *testing.T) {
	// 32 MiB taken at about 40 MiB/s: the bytes go by sendfile, which
	// reports nothing on the way, so progress comes from looking at the
	// file's offset every 200 ms; the file is larger than what the
	// loopback's socket buffers hold at once.
	content := []byte(strings.Repeat("0123456789abcdef", 2<<20))
	path := writeTemp(t, "big.bin", content)
	client, mux, serverURL := setup(t)
	handleCreate(t, mux, uploadURLOf(serverURL))
	mux.HandleFunc("PUT /upload/f1", func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := io.CopyN(io.Discard, r.Body, 1<<20); err != nil {
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	})

	var mu sync.Mutex
	var seen []Progress
	_, err := client.File.UploadFile(t.Context(), path, WithProgress(func(p Progress) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
	}))
	if err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 3 {
		t.Fatalf("progress called %d times, want several", len(seen))
	}
	for i, p := range seen {
		if p.Total != int64(len(content)) || p.Path != path || (i > 0 && p.Sent <= seen[i-1].Sent) {
			t.Fatalf("progress[%d] = %+v after %+v: want Sent rising and Total %d", i, p, seen[max(i-1, 0)], len(content))
		}
	}
	if last := seen[len(seen)-1]; last.Sent != last.Total {
		t.Errorf("last progress = %+v, want Sent == Total", last)
	}
}

func TestUploadFile_retriesUnavailablePutWithTheWholeBody(t *testing.T) {
	content := []byte(strings.Repeat("retry me ", 10_000))
	path := writeTemp(t, "r.txt", content)
	client, mux, serverURL := setup(t)
	handleCreate(t, mux, uploadURLOf(serverURL))
	var puts atomic.Int32
	mux.HandleFunc("PUT /upload/f1", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) != string(content) {
			t.Errorf("PUT %d: body of %d bytes, want the %d bytes of the file", puts.Load()+1, len(body), len(content))
		}
		if puts.Add(1) <= 2 {
			writeJSON(w, http.StatusServiceUnavailable, `{"message":"retry later"}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"id":"f1","status":"uploaded"}`)
	})
	got, err := client.File.UploadFile(t.Context(), path)
	if err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	if got.Status != StatusUploaded || puts.Load() != 3 {
		t.Errorf("UploadFile = %+v after %d PUTs, want uploaded after 3", got, puts.Load())
	}
}

func TestUploadFile_zeroByteFile(t *testing.T) {
	path := writeTemp(t, "empty", nil)
	client, mux, serverURL := setup(t)
	creates := handleCreate(t, mux, uploadURLOf(serverURL))
	mux.HandleFunc("PUT /upload/f1", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if n != 0 || r.ContentLength != 0 || len(r.TransferEncoding) != 0 {
			t.Errorf("PUT: %d bytes, ContentLength %d, TransferEncoding %v; want an empty identity body", n, r.ContentLength, r.TransferEncoding)
		}
		writeJSON(w, http.StatusOK, `{"id":"f1","status":"uploaded"}`)
	})
	if _, err := client.File.UploadFile(t.Context(), path); err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	if c := creates(); len(c) != 1 || c[0].SourceHash != testHash {
		t.Errorf("create requests = %+v, want the hash of no bytes %s", c, testHash)
	}
}

// TestUploadFile_streamsWithoutHoldingTheFileInMemory uploads 64 MiB and
// checks that the process allocated far less than that meanwhile: reading the
// file into memory (io.ReadAll, os.ReadFile, a bytes.Buffer) would allocate
// at least its size.
func TestUploadFile_streamsWithoutHoldingTheFileInMemory(t *testing.T) {
	const size = 64 << 20
	path := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size) // sparse; a few marks make the offsets matter
	for _, off := range []int64{0, 1<<20 + 7, size/2 + 3, size - 5} {
		f.WriteAt([]byte("mark"), off)
	}
	f.Close()
	wantHash, _, err := HashFile(path)
	if err != nil {
		t.Fatal(err)
	}

	client, mux, serverURL := setup(t)
	handleCreate(t, mux, uploadURLOf(serverURL))
	var gotHash string
	var gotN int64
	mux.HandleFunc("PUT /upload/f1", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		gotN, _ = io.Copy(h, r.Body)
		gotHash = hex.EncodeToString(h.Sum(nil))
	})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := client.File.UploadFile(t.Context(), path); err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	runtime.ReadMemStats(&after)

	if gotHash != wantHash || gotN != size {
		t.Errorf("server received %d bytes hashing to %s, want %d bytes hashing to %s", gotN, gotHash, size, wantHash)
	}
	alloc := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
	t.Logf("uploading %d MiB allocated %.2f MiB", size>>20, alloc)
	if alloc > 16 { // streaming allocates about 1 MiB; reading the file in, 64 MiB or more
		t.Errorf("uploading %d MiB allocated %.1f MiB: the file is held in memory", size>>20, alloc)
	}
}

func TestUploadFile_serverWithoutLimitsEndpointGetsOnePut(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 4000) // 40 kB: two 16 KiB parts and more
	path := writeTemp(t, "doc.bin", content)
	client, mux, serverURL := setup(t)
	handleCreate(t, mux, uploadURLOf(serverURL))
	var puts atomic.Int32
	mux.HandleFunc("PUT /upload/f1", func(w http.ResponseWriter, r *http.Request) {
		puts.Add(1)
		if b, _ := io.ReadAll(r.Body); !bytes.Equal(b, content) {
			t.Errorf("PUT of %d bytes, want the whole %d", len(b), len(content))
		}
		writeJSON(w, http.StatusOK, `{"id":"f1","status":"uploaded"}`)
	})
	if _, err := client.File.UploadFile(t.Context(), path, WithPartSize(16<<10)); err != nil {
		t.Fatal(err)
	}
	if puts.Load() != 1 {
		t.Errorf("%d PUTs, want the one of the contract", puts.Load())
	}
	if l, err := client.File.Limits(t.Context()); err != nil || l != (Limits{}) {
		t.Errorf("Limits of a server without the endpoint = %+v, %v; want the zero Limits", l, err)
	}
}
