package sdktest

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
)

// sentBodies counts the request body bytes the transport reads, which is
// what it sends (a body held back by Expect: 100-continue reads nothing).
type sentBodies struct {
	n atomic.Int64
}

type countedBody struct {
	r interface {
		Read([]byte) (int, error)
		Close() error
	}
	n *atomic.Int64
}

func (b countedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b countedBody) Close() error { return b.r.Close() }

func (s *sentBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody && r.Header.Get("Content-Type") != "application/json" {
		r = r.Clone(r.Context())
		r.Body = countedBody{r.Body, &s.n}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestUploadFile_streamsANewLargeFileBeforeHashingIt(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		path, content := writeRandom(t, "big.bin", 3<<20+5)
		var last perseus.Progress
		f, err := e.client(nil).File.UploadFile(context.Background(), path, perseus.WithPartSize(1<<20), perseus.WithStream(true),
			perseus.WithProgress(func(p perseus.Progress) { last = p }))
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != perseus.StatusUploaded || f.SourceHash != sum(content) || f.Size != int64(len(content)) || f.Name != "big.bin" {
			t.Fatalf("got %+v", f)
		}
		if n := e.count("POST /api/v0/file/stream"); n != 1 {
			t.Errorf("%d stream requests, want 1", n)
		}
		if n := e.count("POST /api/v0/file") + e.count("POST multipart"); n != 0 {
			t.Errorf("%d create or multipart requests, want none", n)
		}
		if last.Sent != last.Total || last.Total != int64(len(content)) {
			t.Errorf("last progress %+v", last)
		}
		got, err := e.client(nil).File.WaitForFileUpload(context.Background(), f.ID)
		if err != nil || got.Status != perseus.StatusUploaded {
			t.Fatalf("wait: %+v %v", got, err)
		}
	})
}

func TestUploadFile_sendsNothingOfContentThereAlreadyThoughItMayStream(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		path, _ := writeRandom(t, "big.bin", 2<<20)
		first, err := e.client(nil).File.UploadFile(context.Background(), path, perseus.WithPartSize(1<<20), perseus.WithStream(true))
		if err != nil {
			t.Fatal(err)
		}
		sent := &sentBodies{}
		again, err := e.client(sent).File.UploadFile(context.Background(), path, perseus.WithPartSize(1<<20), perseus.WithStream(true))
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != first.ID {
			t.Errorf("re-upload returned %s, want %s", again.ID, first.ID)
		}
		if n := sent.n.Load(); n != 0 {
			t.Errorf("the re-upload sent %d content bytes", n)
		}
		if n := e.count("POST /api/v0/file/stream"); n != 2 {
			t.Errorf("%d stream requests, want 2 (the second answered hash_first)", n)
		}
	})
}

func TestUploadFile_streamsOnlyWhenAskedTo(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		path, content := writeRandom(t, "big.bin", 3<<20)
		f, err := e.client(nil).File.UploadFile(context.Background(), path, perseus.WithPartSize(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		if f.SourceHash != sum(content) {
			t.Fatalf("got %+v", f)
		}
		if n := e.count("POST /api/v0/file/stream"); n != 0 {
			t.Errorf("%d stream requests without WithStream(true)", n)
		}
	})
}

func TestUploadFile_fallsBackWhenTheStreamFails(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			e := newEnv(t, nil)
			e.inject(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/api/v0/file/stream" {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				w.Write([]byte(`{"message":"not today"}`))
				return true
			})
			path, content := writeRandom(t, "big.bin", 3<<20)
			f, err := e.client(nil).File.UploadFile(context.Background(), path, perseus.WithPartSize(1<<20), perseus.WithStream(true))
			if err != nil {
				t.Fatal(err)
			}
			if f.Status != perseus.StatusUploaded || f.SourceHash != sum(content) {
				t.Fatalf("got %+v", f)
			}
			// It falls back to the default: in one pass, through tus.
			if e.tusCreates() != 1 {
				t.Errorf("no tus upload after the failed stream")
			}
		})
	}
}

func TestUploadFile_dropsAStreamOfAFileThatChangedMeanwhile(t *testing.T) {
	e := newEnv(t, nil)
	path, _ := writeRandom(t, "big.bin", 3<<20)
	e.inject(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/v0/file/stream" {
			later := time.Now().Add(time.Hour)
			os.Chtimes(path, later, later) // as a writer would, while the bytes go
		}
		return false
	})
	c := e.client(nil)
	_, err := c.File.UploadFile(context.Background(), path, perseus.WithPartSize(1<<20), perseus.WithStream(true))
	if err == nil || !strings.Contains(err.Error(), "changed while it was being sent") {
		t.Fatalf("err = %v, want one saying the file changed", err)
	}
	page, err := c.File.ListFilesPage(context.Background(), perseus.ListOptions{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Files) != 0 {
		t.Errorf("the server still has %+v", page.Files[0])
	}
}

func TestUploadFiles_streamsOnlyFilesOfASizeOfTheirOwn(t *testing.T) {
	e := newEnv(t, nil)
	a, content := writeRandom(t, "a.bin", 2<<20)
	b, _ := writeRandom(t, "b.bin", 2<<20+1)
	dup := a + ".copy"
	if err := os.WriteFile(dup, content, 0o600); err != nil {
		t.Fatal(err)
	}
	small, _ := writeRandom(t, "small.bin", 1000)
	var done atomic.Int64
	res := e.client(nil).File.UploadFiles(context.Background(), []string{a, b, dup, small},
		perseus.WithPartSize(1<<20), perseus.WithConcurrency(1), perseus.WithStream(true),
		perseus.WithProgress(func(p perseus.Progress) {
			if p.Done {
				done.Add(1)
			}
		}))
	for _, r := range res {
		if r.Err != nil || r.File == nil || r.File.Status != perseus.StatusUploaded {
			t.Fatalf("%s: %+v %v", r.Path, r.File, r.Err)
		}
	}
	if res[0].File.ID != res[2].File.ID || res[0].File.SourceHash != sum(content) {
		t.Errorf("the copy of a.bin got %s, a.bin %s", res[2].File.ID, res[0].File.ID)
	}
	if n := e.count("POST /api/v0/file/stream"); n != 1 {
		t.Errorf("%d stream requests, want 1 (b; a and its copy share a size, so they are hashed first)", n)
	}
	if n := e.count("POST /api/v0/file"); n != 2 {
		t.Errorf("%d creates, want 2 (a and its copy are one content; small.bin)", n)
	}
	if n := done.Load(); n != 3 {
		t.Errorf("%d final progress reports, want 3 (one per file sent)", n)
	}
}

// A transport that does not wait for 100 Continue sends the body at once;
// the server's hash_first answer must still lead to the existing file.
func TestUploadFile_streamWorksWithATransportThatDoesNotWaitForContinue(t *testing.T) {
	e := newEnv(t, nil)
	path, content := writeRandom(t, "big.bin", 3<<20)
	eager := &http.Transport{ExpectContinueTimeout: 0}
	defer eager.CloseIdleConnections()
	first, err := e.client(eager).File.UploadFile(context.Background(), path, perseus.WithPartSize(1<<20), perseus.WithStream(true))
	if err != nil || first.SourceHash != sum(content) {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := e.client(eager).File.UploadFile(context.Background(), path, perseus.WithPartSize(1<<20), perseus.WithStream(true))
	if err != nil || again.ID != first.ID {
		t.Fatalf("again: %+v %v, want %s", again, err, first.ID)
	}
	if n := e.count("POST /api/v0/file/stream"); n != 2 {
		t.Errorf("%d stream requests, want 2", n)
	}
}
