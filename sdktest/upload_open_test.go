package sdktest

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/perseus-go/perseus"
)

func TestUploadFile_sendsANewLargeFileInOnePass(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		path, content := writeRandom(t, "one-pass.bin", int(3*e.part+5))
		pc := &parts{}
		f, err := e.client(pc).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part), perseus.WithParts(true))
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != perseus.StatusUploaded || f.SourceHash != sum(content) || f.Name != "one-pass.bin" || !bytes.Equal(e.stored(f), content) {
			t.Fatalf("UploadFile = %+v", f)
		}
		// No create before the parts: an open upload, whose record the
		// complete made.
		if e.count("POST /api/v0/file") != 0 || e.count("POST multipart") != 1 || pc.n.Load() != 4 || pc.bytes.Load() != int64(len(content)) {
			t.Errorf("%d creates, %d open uploads, %d part PUTs of %d bytes; want 0, 1, 4 of %d",
				e.count("POST /api/v0/file"), e.count("POST multipart"), pc.n.Load(), pc.bytes.Load(), len(content))
		}
		if left, _ := os.ReadDir(os.Getenv("XDG_CACHE_HOME") + "/perseus/uploads"); len(left) != 0 {
			t.Errorf("%d resume states left after the upload completed", len(left))
		}
	})
}

func TestUploadFile_hashesFirstWhereAFileOfTheSameSizeIsUploaded(t *testing.T) {
	e := newEnv(t, nil)
	first, _ := writeRandom(t, "first.bin", int(2*e.part+1))
	second, content := writeRandom(t, "second.bin", int(2*e.part+1))
	c := e.client(nil)
	if _, err := c.File.UploadFile(t.Context(), first, perseus.WithPartSize(e.part), perseus.WithParts(true)); err != nil {
		t.Fatal(err)
	}
	f, err := c.File.UploadFile(t.Context(), second, perseus.WithPartSize(e.part), perseus.WithParts(true))
	if err != nil || f.SourceHash != sum(content) {
		t.Fatalf("second upload: %+v, %v", f, err)
	}
	// The server said hash_first to the second open upload: it may have
	// the content, so the client hashed it and created it.
	// Multipart starts: two open uploads (the second refused), and the
	// created file's own.
	if e.count("POST multipart") != 3 || e.count("POST /api/v0/file") != 1 {
		t.Errorf("%d multipart starts, %d creates; want 3 and 1", e.count("POST multipart"), e.count("POST /api/v0/file"))
	}
}

// racer uploads the same content with another client once a request
// that when picks has been answered, as another process would: content the
// server gets while the file is still being sent.
type racer struct {
	parts
	when   func(*http.Request) bool
	once   sync.Once
	upload func()
}

func (r *racer) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := r.parts.RoundTrip(req)
	if err == nil && r.when(req) {
		r.once.Do(r.upload)
	}
	return res, err
}

func TestUploadFile_endsWithTheFileThatGotTheContentMeanwhile(t *testing.T) {
	for _, c := range []struct {
		name  string
		when  func(*http.Request) bool
		abort int // DELETEs of the open upload the client sends
	}{
		// Before the hash is known: the client finds the file, stops
		// sending and discards its upload.
		{"before the hash", func(r *http.Request) bool { return r.Method == "POST" && r.URL.Path == "/api/v0/file/multipart" }, 1},
		// After: the server finds it when the upload completes, and
		// discards the upload itself.
		{"after the hash", isPart, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			backends(t, func(t *testing.T, e *env) {
				path, content := writeRandom(t, "raced.bin", int(6*e.part+7))
				var other *perseus.File
				r := &racer{when: c.when, upload: func() {
					var err error
					other, err = e.client(nil).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part), perseus.WithHashFirst(true))
					if err != nil {
						t.Error(err)
					}
				}}
				f, err := e.client(r).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part), perseus.WithParallelParts(1), perseus.WithParts(true))
				if err != nil {
					t.Fatal(err)
				}
				if other == nil || f.ID != other.ID || f.SourceHash != sum(content) {
					t.Fatalf("UploadFile = %+v, want the file the other client uploaded, %+v", f, other)
				}
				deletes := 0
				for k, n := range e.snapshot() {
					if strings.HasPrefix(k, "DELETE /api/v0/file/") && strings.Contains(k, "/multipart/") {
						deletes += n
					}
				}
				if deletes != c.abort {
					t.Errorf("%d aborts of the open upload, want %d", deletes, c.abort)
				}
				t.Logf("sent %d of %d bytes", r.bytes.Load(), len(content))
			})
		})
	}
}
