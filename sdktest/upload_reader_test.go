package sdktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/server"
)

// onlyReader hides everything of a reader but Read, as a pipe would.
type onlyReader struct{ io.Reader }

// spoolDir points the SDK's temporary files at a directory of the test's,
// and returns a function listing what is left in it.
func spoolDir(t *testing.T) func() []string {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return func() []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
}

// records returns the names of every file the env's tenant has.
func records(t *testing.T, e *env) []string {
	t.Helper()
	var names []string
	for f, err := range e.client(nil).File.ListFiles(context.Background(), perseus.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, f.Name+":"+string(f.Status))
	}
	return names
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestUploadReader_withoutASizeSpoolsHashesAndRemovesTheCopy(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		left := spoolDir(t)
		content := random(3<<20 + 7) // in parts of 1 MiB on the embedded store
		var mu sync.Mutex
		var most perseus.Progress
		paths := map[string]bool{}
		f, err := e.client(nil).File.UploadReader(context.Background(), "piped/data.bin", onlyReader{bytes.NewReader(content)},
			perseus.WithPartSize(1<<20), perseus.WithProgress(func(p perseus.Progress) {
				mu.Lock()
				defer mu.Unlock()
				paths[p.Path] = true
				if p.Sent > most.Sent {
					most = p
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		if f.Name != "piped/data.bin" || f.SourceHash != sum(content) {
			t.Fatalf("got %+v", f)
		}
		if f, err = e.client(nil).File.WaitForFileUpload(context.Background(), f.ID); err != nil || f.Size != int64(len(content)) || !bytes.Equal(e.stored(f), content) {
			t.Fatalf("waited: %+v %v; or the stored content differs", f, err)
		}
		if len(paths) != 1 || !paths["piped/data.bin"] || most.Sent != most.Total || most.Total != int64(len(content)) {
			t.Errorf("progress named %v, at most %+v; want the name, and everything sent", paths, most)
		}
		if n := e.count("POST /api/v0/file/stream"); n != 0 {
			t.Errorf("%d streams without a size", n)
		}
		if l := left(); len(l) != 0 {
			t.Errorf("temporary files left behind: %v", l)
		}
		// Again: the server has it, nothing is sent, the copy is gone too.
		again, err := e.client(nil).File.UploadReader(context.Background(), "other", bytes.NewReader(content))
		if err != nil || again.ID != f.ID {
			t.Errorf("again: %+v %v, want %s", again, err, f.ID)
		}
		if l := left(); len(l) != 0 {
			t.Errorf("temporary files left behind: %v", l)
		}
	})
}

func TestUploadReader_withASizeStreamsWithoutACopy(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		left := spoolDir(t)
		content := random(1<<20 + 3)
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeSlowly(pw, content)) }()
		f, err := e.client(nil).File.UploadReader(context.Background(), "a/stream.bin", pr, perseus.WithSize(int64(len(content))))
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != perseus.StatusUploaded || f.Name != "a/stream.bin" || f.SourceHash != sum(content) || f.Size != int64(len(content)) {
			t.Fatalf("got %+v", f)
		}
		if s, c := e.count("POST /api/v0/file/stream"), e.count("POST /api/v0/file"); s != 1 || c != 0 {
			t.Errorf("%d streams and %d creates, want 1 and 0", s, c)
		}
		if l := left(); len(l) != 0 {
			t.Errorf("temporary files: %v", l)
		}
	})
}

// writeSlowly writes b to w in a few pieces, as a producer would.
func writeSlowly(w io.Writer, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), 256<<10)
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func TestUploadReader_aStreamDeclinedBeforeReadingGoesByCopy(t *testing.T) {
	e := newEnv(t, nil)
	first := random(5000)
	if _, err := e.client(nil).File.UploadReader(context.Background(), "first", bytes.NewReader(first)); err != nil {
		t.Fatal(err)
	}
	// Same size, other content: the server answers hash_first before the body.
	second := random(5000)
	f, err := e.client(nil).File.UploadReader(context.Background(), "second", onlyReader{bytes.NewReader(second)}, perseus.WithSize(5000))
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "second" || f.SourceHash != sum(second) {
		t.Fatalf("got %+v", f)
	}
	if n := e.count("POST /api/v0/file/stream"); n != 1 {
		t.Errorf("%d streams, want 1 (declined)", n)
	}
}

func TestUploadReader_aReaderThatBreaksWithSizeKeepsNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		size    int64
		want    string
	}{
		{"shorter", []byte("only this"), 100, "ended after 9 bytes"},
		{"longer", []byte("more than it said"), 4, "more than the 4 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			left := spoolDir(t)
			_, err := e.client(nil).File.UploadReader(context.Background(), "x", onlyReader{bytes.NewReader(tc.content)}, perseus.WithSize(tc.size))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if r := records(t, e); len(r) != 0 {
				t.Errorf("records left: %v", r)
			}
			if l := left(); len(l) != 0 {
				t.Errorf("temporary files: %v", l)
			}
		})
	}
}

func TestUploadReader_refusesMoreThanTheServerTakesWithoutReadingItAll(t *testing.T) {
	e := newEnv(t, nil, func(c *server.Config) { c.MaxFileSize = 1 << 20 })
	left := spoolDir(t)
	endless := &countingReader{r: rand.Reader}
	_, err := e.client(nil).File.UploadReader(context.Background(), "big", endless)
	if err == nil || !strings.Contains(err.Error(), "the most the server accepts") {
		t.Fatalf("err %v", err)
	}
	if endless.n > 1<<20+spoolSlack {
		t.Errorf("read %d bytes of a reader over a limit of 1 MiB", endless.n)
	}
	if r, l := records(t, e), left(); len(r) != 0 || len(l) != 0 {
		t.Errorf("records %v, temporary files %v", r, l)
	}
}

// spoolSlack is how far past a limit a spool may read: one buffer.
const spoolSlack = 256 << 10

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// fifo makes a named pipe and writes content to it when a reader opens it.
func fifo(t *testing.T, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	go func() {
		w, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err == nil {
			w.Write(content)
			w.Close()
		}
	}()
	t.Cleanup(func() { // let the writer go, if nothing opened the pipe
		if r, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			r.Close()
		}
	})
	return p
}

func TestUploadFile_onAPipeSaysUploadReaderAndRecordsNothing(t *testing.T) {
	e := newEnv(t, nil)
	p := fifo(t, []byte("piped content"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := e.client(nil).File.UploadFile(ctx, p)
	if !errors.Is(err, perseus.ErrNotRegularFile) || !strings.Contains(err.Error(), "UploadReader") || f != nil {
		t.Fatalf("UploadFile(pipe) = %+v, %v; want ErrNotRegularFile naming UploadReader", f, err)
	}
	if r := records(t, e); len(r) != 0 || e.count("POST /api/v0/file") != 0 {
		t.Errorf("records %v after a refused pipe", r)
	}
	// UploadFiles: the pipe fails alone, the rest goes.
	ok := writeTemp(t, "ok.txt", []byte("a regular file"))
	res := e.client(nil).File.UploadFiles(ctx, []string{p, ok})
	if !errors.Is(res[0].Err, perseus.ErrNotRegularFile) || res[1].Err != nil || res[1].File.Name != "ok.txt" {
		t.Errorf("UploadFiles: %+v", res)
	}
	if r := records(t, e); len(r) != 1 {
		t.Errorf("records %v, want ok.txt's alone", r)
	}
}

func TestUploadFiles_namesEachPathByWithNames(t *testing.T) {
	e := newEnv(t, nil)
	a := writeTemp(t, "x.txt", []byte("first x"))
	b := writeTemp(t, "x.txt", []byte("second x"))
	res := e.client(nil).File.UploadFiles(context.Background(), []string{a, b}, perseus.WithNames([]string{"r/a/x.txt", "r/b/x.txt"}))
	if res[0].Err != nil || res[1].Err != nil || res[0].File.Name != "r/a/x.txt" || res[1].File.Name != "r/b/x.txt" {
		t.Fatalf("%+v", res)
	}
	res = e.client(nil).File.UploadFiles(context.Background(), []string{a, b}, perseus.WithNames([]string{"one"}))
	if res[0].Err == nil || res[1].Err == nil {
		t.Errorf("one name for two paths: %+v", res)
	}
}

// writeTemp writes content to a file name of a directory of its own.
func writeTemp(t *testing.T, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
