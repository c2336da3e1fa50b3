package perseus

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/perseus-go/perseus/internal/sha256chain"
)

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

// fakeMultipart serves limits, create and the multipart endpoints for one
// file f1 in parts of 16 KiB, and answers each part PUT with answer.
func fakeMultipart(t *testing.T, size int64, answer func(w http.ResponseWriter, body []byte)) (*Client, *atomic.Int32) {
	client, mux, serverURL := setup(t)
	handleCreate(t, mux, uploadURLOf(serverURL))
	mux.HandleFunc("GET /api/v0/limits", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"maxFileSize":1000000,"minPartSize":1024,"maxPartSize":1000000,"maxParts":100,"multipart":true,"partChecksum":"sha256"}`)
	})
	mux.HandleFunc("POST /api/v0/file/f1/multipart", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 201, fmt.Sprintf(`{"uploadId":"u","size":%d,"partSize":16384,"partCount":%d,"parts":[]}`, size, (size+16383)/16384))
	})
	mux.HandleFunc("POST /api/v0/file/f1/multipart/u/parts", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Parts []partRef }
		json.NewDecoder(r.Body).Decode(&req)
		var out []string
		for _, p := range req.Parts {
			out = append(out, fmt.Sprintf(`{"partNumber":%d,"url":"%s/part/%d"}`, p.PartNumber, serverURL+baseURLPath, p.PartNumber))
		}
		writeJSON(w, 200, `{"parts":[`+strings.Join(out, ",")+`]}`)
	})
	var puts atomic.Int32
	mux.HandleFunc("PUT /part/{n}", func(w http.ResponseWriter, r *http.Request) {
		puts.Add(1)
		b, _ := io.ReadAll(r.Body)
		answer(w, b)
	})
	mux.HandleFunc("POST /api/v0/file/f1/multipart/u/complete", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"id":"f1","status":"uploaded"}`)
	})
	return client, &puts
}

func TestUploadFile_partTheStoreDoesNotConfirmIsAnError(t *testing.T) {
	content := make([]byte, 40<<10)
	rand.Read(content)
	for name, tc := range map[string]struct {
		answer func(w http.ResponseWriter, body []byte)
		want   string
	}{
		"another sha256": {func(w http.ResponseWriter, _ []byte) {
			writeJSON(w, 200, `{"sha256":"`+strings.Repeat("0", 64)+`"}`)
		}, "not to"},
		"another x-amz-checksum-sha256": {func(w http.ResponseWriter, _ []byte) {
			w.Header().Set("x-amz-checksum-sha256", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
		}, "not to"},
		"no checksum": {func(w http.ResponseWriter, _ []byte) {
			w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
		}, "without confirming"},
	} {
		t.Run(name, func(t *testing.T) {
			client, puts := fakeMultipart(t, int64(len(content)), tc.answer)
			_, err := client.File.UploadFile(t.Context(), writeTemp(t, "f.bin", content), WithPartSize(16<<10), WithParallelParts(1))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("UploadFile = %v, want an error saying %q", err, tc.want)
			}
			if puts.Load() != 1 {
				t.Errorf("%d part PUTs; the first refused part must stop the upload", puts.Load())
			}
		})
	}
	t.Run("the right sha256", func(t *testing.T) {
		client, puts := fakeMultipart(t, int64(len(content)), func(w http.ResponseWriter, body []byte) {
			writeJSON(w, 200, `{"sha256":"`+sha256Hex(body)+`"}`)
		})
		if _, err := client.File.UploadFile(t.Context(), writeTemp(t, "f.bin", content), WithPartSize(16<<10)); err != nil || puts.Load() != 3 {
			t.Fatalf("UploadFile = %v after %d part PUTs, want success after 3", err, puts.Load())
		}
	})
}

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

func TestPlanParts(t *testing.T) {
	l := Limits{Multipart: true, MinPartSize: 5 << 20, MaxPartSize: 5 << 30, MaxParts: 10000}
	for _, tc := range []struct {
		name       string
		size, want int64
		l          Limits
		part       int64
		err        bool
	}{
		{"fits in one part", 16 << 20, 16 << 20, l, 0, false},
		{"a part and a byte", 16<<20 + 1, 16 << 20, l, 16 << 20, false},
		{"raised to minPartSize", 64 << 20, 1 << 20, l, 5 << 20, false},
		{"raised to fit maxParts", 1 << 40, 16 << 20, l, (1<<40 + 9999) / 10000, false},
		{"capped at maxPartSize", 100 << 30, 16 << 30, l, 5 << 30, false},
		{"too large for any plan", 60 << 40, 16 << 20, l, 0, true},
		{"no multipart", 1 << 30, 16 << 20, Limits{}, 0, false},
	} {
		part, err := planParts(tc.size, tc.want, tc.l)
		if part != tc.part || (err != nil) != tc.err {
			t.Errorf("%s: planParts(%d, %d) = %d, %v; want %d, error %v", tc.name, tc.size, tc.want, part, err, tc.part, tc.err)
		}
	}
}

func TestHashParts_hashesWholeAndEachPartInOnePass(t *testing.T) {
	content := make([]byte, 1<<20+300_001)
	rand.Read(content)
	path := writeTemp(t, "f.bin", content)
	const partSize = 300_001 // not a multiple of the read buffer
	d, err := hashParts(t.Context(), path, partSize)
	if err != nil {
		t.Fatal(err)
	}
	if d.hash != sha256Hex(content) || d.size != int64(len(content)) || len(d.parts) != 5 {
		t.Fatalf("hashParts = %s, %d bytes, %d parts", d.hash, d.size, len(d.parts))
	}
	for i, h := range d.parts {
		if want := sha256Hex(content[i*partSize : min((i+1)*partSize, len(content))]); h != want {
			t.Errorf("part %d hashes to %s, want %s", i+1, h, want)
		}
	}
}

func TestHashChained_keepsTheWholesChainingValueAtEachPartBoundary(t *testing.T) {
	const partSize = 5 * 64 << 10 // a multiple of 64, not of the read buffer
	for _, size := range []int{3 * partSize, 3*partSize + 1, partSize + 63} {
		content := make([]byte, size)
		rand.Read(content)
		d, err := hashChained(t.Context(), writeTemp(t, "f.bin", content), partSize)
		if err != nil {
			t.Fatal(err)
		}
		count := (size + partSize - 1) / partSize
		if d.hash != sha256Hex(content) || d.size != int64(size) || len(d.parts) != count || len(d.from) != count {
			t.Fatalf("size %d: hashChained = %s, %d bytes, %d parts, %d froms", size, d.hash, d.size, len(d.parts), len(d.from))
		}
		h := sha256.New()
		for i := range count {
			if v, _ := sha256chain.Value(h); d.from[i] != v {
				t.Errorf("size %d: part %d from %s, want %s", size, i+1, d.from[i], v)
			}
			h.Write(content[i*partSize : min((i+1)*partSize, size)])
			want := d.hash
			if i < count-1 {
				want, _ = sha256chain.Value(h)
			}
			if d.parts[i] != want {
				t.Errorf("size %d: part %d ends at %s, want %s", size, i+1, d.parts[i], want)
			}
		}
	}
}
