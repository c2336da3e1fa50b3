package sdktest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
)

// tusPatches records the PATCHes that reach the server: their offsets,
// and whether they carried the whole file's checksum.
type tusPatches struct {
	mu      sync.Mutex
	offsets []int64
	checked []bool
}

func (p *tusPatches) fault(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/api/v0/tus/") {
		off, _ := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
		p.mu.Lock()
		p.offsets = append(p.offsets, off)
		p.checked = append(p.checked, r.Header.Get("Perseus-File-Checksum") != "")
		p.mu.Unlock()
	}
	return false
}

func (p *tusPatches) get() ([]int64, []bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.offsets...), append([]bool(nil), p.checked...)
}

// tusCreates counts the uploads begun at the tus endpoint.
func (e *env) tusCreates() int { return e.count("POST /api/v0/tus/") }

func TestUploadFile_sendsANewLargeFileInOrderThroughTus(t *testing.T) {
	e := newEnv(t, nil)
	path, content := writeRandom(t, "in-order.bin", int(3*e.part)+2<<20+5)
	p := &tusPatches{}
	e.inject(p.fault)
	pc := &parts{}
	var sent atomic.Int64
	f, err := e.client(pc).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part),
		perseus.WithProgress(func(pr perseus.Progress) { sent.Store(pr.Sent) }))
	if err != nil {
		t.Fatal(err)
	}
	if f.Status != perseus.StatusUploaded || f.SourceHash != sum(content) || f.Name != "in-order.bin" || !bytes.Equal(e.stored(f), content) {
		t.Fatalf("UploadFile = %+v", f)
	}
	// One upload at the tus endpoint: the file but its last MiB, then
	// the last bytes with the file's CRC. No create, no parts.
	offsets, checked := p.get()
	tail := int64(1 << 20)
	if e.tusCreates() != 1 || len(offsets) != 2 || offsets[0] != 0 || offsets[1] != int64(len(content))-tail || checked[0] || !checked[1] {
		t.Errorf("%d tus creates, PATCHes at %v with file checksums %v; want 1, [0 %d], [false true]", e.tusCreates(), offsets, checked, int64(len(content))-tail)
	}
	if e.count("POST /api/v0/file") != 0 || e.count("POST multipart") != 0 || pc.n.Load() != 0 {
		t.Errorf("%d creates, %d open uploads, %d part PUTs; want none", e.count("POST /api/v0/file"), e.count("POST multipart"), pc.n.Load())
	}
	if sent.Load() != int64(len(content)) {
		t.Errorf("progress ended at %d bytes, want %d", sent.Load(), len(content))
	}
	if left, _ := os.ReadDir(os.Getenv("XDG_CACHE_HOME") + "/perseus/uploads"); len(left) != 0 {
		t.Errorf("%d resume states left after the upload completed", len(left))
	}
}

// TestUploadFile_onS3GoesInParts: on S3, whose store copies a tus
// upload's bytes at its end, the server does not prefer tus, and a new
// large file goes in parts.
func TestUploadFile_onS3GoesInParts(t *testing.T) {
	e := newEnv(t, openS3(t))
	path, content := writeRandom(t, "s3.bin", int(3*e.part+5))
	l, err := e.client(nil).File.Limits(t.Context())
	if err != nil || l.TusPreferred || l.FileChecksum != "crc64nvme" {
		t.Fatalf("Limits = %+v, %v; want tusPreferred false, fileChecksum crc64nvme", l, err)
	}
	f, err := e.client(nil).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
	if err != nil || f.SourceHash != sum(content) || !bytes.Equal(e.stored(f), content) {
		t.Fatalf("UploadFile = %+v, %v", f, err)
	}
	if e.tusCreates() != 0 || e.count("POST multipart") != 1 {
		t.Errorf("%d tus creates, %d open uploads; want 0 and 1", e.tusCreates(), e.count("POST multipart"))
	}
}

func TestUploadFile_withPartsSendsInParts(t *testing.T) {
	e := newEnv(t, nil)
	path, content := writeRandom(t, "parts.bin", int(3*e.part+5))
	pc := &parts{}
	f, err := e.client(pc).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part), perseus.WithParts(true))
	if err != nil || f.SourceHash != sum(content) {
		t.Fatalf("UploadFile = %+v, %v", f, err)
	}
	if e.tusCreates() != 0 || e.count("POST multipart") != 1 || pc.n.Load() != 4 {
		t.Errorf("%d tus creates, %d open uploads, %d part PUTs; want 0, 1, 4", e.tusCreates(), e.count("POST multipart"), pc.n.Load())
	}
}

func TestUploadFile_tusHashesFirstWhereAFileOfTheSameSizeIsUploaded(t *testing.T) {
	e := newEnv(t, nil)
	first, _ := writeRandom(t, "first.bin", int(2*e.part+1))
	second, content := writeRandom(t, "second.bin", int(2*e.part+1))
	c := e.client(nil)
	if _, err := c.File.UploadFile(t.Context(), first, perseus.WithPartSize(e.part)); err != nil {
		t.Fatal(err)
	}
	p := &tusPatches{}
	e.inject(p.fault)
	f, err := c.File.UploadFile(t.Context(), second, perseus.WithPartSize(e.part))
	if err != nil || f.SourceHash != sum(content) {
		t.Fatalf("second upload: %+v, %v", f, err)
	}
	// The server refused the second tus upload (409 hash_first) before a
	// byte went; the client hashed the file and created it, the
	// contract's way, and did not try an open upload.
	offsets, _ := p.get()
	if e.tusCreates() != 2 || len(offsets) != 0 || e.count("POST /api/v0/file") != 1 || e.count("POST multipart") != 1 {
		t.Errorf("%d tus creates, %d PATCHes, %d creates, %d multipart starts; want 2, 0, 1 and 1 (the created file's)",
			e.tusCreates(), len(offsets), e.count("POST /api/v0/file"), e.count("POST multipart"))
	}
}

// cutPatch cuts the first PATCH to reach the server after keep of its
// bytes, as a connection lost on the way does: the server gets those
// bytes and an error, and the client's connection is closed unanswered.
func cutPatch(keep int64) fault {
	var once atomic.Bool
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPatch || once.Swap(true) {
			return false
		}
		r.Body = io.NopCloser(io.MultiReader(io.LimitReader(r.Body, keep), errReader{io.ErrUnexpectedEOF}))
		return false
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// hangUp closes the client's connection of a request the server answered
// with an error after its body broke, so that the client sees the cut.
func hangUp(inner fault, e *env) fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPatch {
			return false
		}
		before := r.Body
		inner(w, r)
		if r.Body == before {
			return false
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	}
}

func TestUploadFile_tusResumesFromWhatTheServerKept(t *testing.T) {
	e := newEnv(t, nil)
	path, content := writeRandom(t, "cut.bin", int(3*e.part)+2<<20+5)
	keep := int64(len(content) / 2)
	p := &tusPatches{}
	e.inject(p.fault)
	e.inject(hangUp(cutPatch(keep), e))

	// A client that does not retry fails, and leaves the upload to
	// resume; a second run sends only what the server lacks.
	_, err := e.client(nil, perseus.WithRetry(perseus.RetryPolicy{})).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
	if err == nil {
		t.Fatal("an upload cut off with no retries succeeded")
	}
	f, err := e.client(nil).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
	if err != nil {
		t.Fatal(err)
	}
	if f.SourceHash != sum(content) || !bytes.Equal(e.stored(f), content) {
		t.Fatalf("UploadFile = %+v", f)
	}
	offsets, _ := p.get()
	if e.tusCreates() != 1 || len(offsets) < 2 || offsets[0] != 0 || offsets[1] != keep {
		t.Errorf("%d tus creates, PATCHes at %v; want 1, [0 %d …]", e.tusCreates(), offsets, keep)
	}
}

func TestUploadFile_tusRetriesACutRequestFromTheServersOffset(t *testing.T) {
	e := newEnv(t, nil)
	path, content := writeRandom(t, "retried.bin", int(3*e.part)+2<<20+5)
	keep := int64(len(content) / 3)
	p := &tusPatches{}
	e.inject(p.fault)
	e.inject(hangUp(cutPatch(keep), e))
	f, err := e.client(nil).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
	if err != nil || f.SourceHash != sum(content) || !bytes.Equal(e.stored(f), content) {
		t.Fatalf("UploadFile = %+v, %v", f, err)
	}
	offsets, _ := p.get()
	if e.tusCreates() != 1 || e.count("HEAD tus upload") != 1 || len(offsets) != 3 || offsets[1] != keep {
		t.Errorf("%d tus creates, %d HEADs, PATCHes at %v; want 1, 1, [0 %d %d]", e.tusCreates(), e.count("HEAD tus upload"), offsets, keep, len(content)-1<<20)
	}
}

// TestUploadFile_tusBytesChangedOnTheWayAreSentAgain: a byte changed
// between the client and the server's store shows in the file's CRC at the
// end; the server discards the upload, records nothing, and the client
// sends the file again, once.
func TestUploadFile_tusBytesChangedOnTheWayAreSentAgain(t *testing.T) {
	e := newEnv(t, nil)
	path, content := writeRandom(t, "flipped.bin", int(3*e.part)+2<<20+5)
	var once atomic.Bool
	e.inject(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPatch && !once.Swap(true) {
			r.Body = io.NopCloser(&flipper{r: r.Body, at: 1000})
		}
		return false
	})
	var most, last atomic.Int64
	f, err := e.client(nil).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part), perseus.WithProgress(func(p perseus.Progress) {
		last.Store(p.Sent)
		if p.Sent > most.Load() {
			most.Store(p.Sent)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if f.SourceHash != sum(content) || !bytes.Equal(e.stored(f), content) {
		t.Fatalf("UploadFile = %+v", f)
	}
	if most.Load() != int64(len(content)) || last.Load() != int64(len(content)) {
		t.Errorf("progress went up to %d and ended at %d; want %d both: the discarded attempt no longer counts", most.Load(), last.Load(), len(content))
	}
	if e.tusCreates() != 2 {
		t.Errorf("%d tus creates, want 2: the upload with a changed byte, then the file again", e.tusCreates())
	}
}

// flipper changes the byte at offset at of what it reads.
type flipper struct {
	r    io.Reader
	at   int64
	read int64
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if i := f.at - f.read; i >= 0 && i < int64(n) {
		p[i] ^= 0x40
	}
	f.read += int64(n)
	return n, err
}

// TestUploadFile_tusFileChangedWhileSent: a file written to while it is
// sent is not recorded; the upload is ended and the caller told.
func TestUploadFile_tusFileChangedWhileSent(t *testing.T) {
	e := newEnv(t, nil)
	path, _ := writeRandom(t, "changing.bin", int(3*e.part)+2<<20+5)
	var once atomic.Bool
	e.inject(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPatch && !once.Swap(true) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err == nil {
				f.WriteAt([]byte("changed"), 10)
				f.Close()
				later := time.Now().Add(time.Second)
				os.Chtimes(path, later, later)
			}
		}
		return false
	})
	f, err := e.client(nil).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
	if !errors.Is(err, perseus.ErrFileChanged) {
		t.Fatalf("UploadFile = %+v, %v; want an error that the file changed", f, err)
	}
	var ae *perseus.APIError
	if errors.As(err, &ae) {
		t.Errorf("the error is the server's: %v", err)
	}
	if n := e.count("DELETE tus upload"); n != 1 {
		t.Errorf("%d tus uploads ended, want 1", n)
	}
	page, err := e.client(nil).File.ListFilesPage(t.Context(), perseus.ListOptions{}, "")
	if err != nil || len(page.Files) != 0 {
		t.Errorf("files recorded: %+v, %v; want none", page, err)
	}
}

// TestUploadFile_tusEndsWithTheFileThatGotTheContentMeanwhile: content
// uploaded by another client while this one sends it in order is found by
// the server at the end, which answers with that file and keeps one copy.
func TestUploadFile_tusEndsWithTheFileThatGotTheContentMeanwhile(t *testing.T) {
	e := newEnv(t, nil)
	path, content := writeRandom(t, "raced.bin", int(3*e.part)+2<<20+5)
	var other *perseus.File
	r := &racer{when: func(r *http.Request) bool { return r.Method == http.MethodPatch }, upload: func() {
		var err error
		other, err = e.client(nil).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part), perseus.WithHashFirst(true))
		if err != nil {
			t.Error(err)
		}
	}}
	f, err := e.client(r).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
	if err != nil {
		t.Fatal(err)
	}
	if other == nil || f.ID != other.ID || f.SourceHash != sum(content) {
		t.Fatalf("UploadFile = %+v, want the file the other client uploaded, %+v", f, other)
	}
	if e.tusCreates() != 1 {
		t.Errorf("%d tus creates, want 1", e.tusCreates())
	}
}

// TestUploadFile_tusGivesUpUnderItsRetryPolicy: a server that answers
// every PATCH 503 gets as many attempts as the policy allows, not more.
func TestUploadFile_tusGivesUpUnderItsRetryPolicy(t *testing.T) {
	e := newEnv(t, nil)
	path, _ := writeRandom(t, "busy.bin", int(3*e.part)+2<<20+5)
	p := &tusPatches{}
	e.inject(p.fault)
	e.inject(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPatch {
			return false
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"code":"unavailable","message":"not today"}`))
		return true
	})
	c := e.client(nil, perseus.WithRetry(perseus.RetryPolicy{MaxAttempts: 3}))
	_, err := c.File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
	var ae *perseus.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("UploadFile against a server answering 503 = %v, want its 503", err)
	}
	if offsets, _ := p.get(); len(offsets) != 3 {
		t.Errorf("%d PATCHes, want 3 (the policy's attempts)", len(offsets))
	}
}

// TestUploadFile_tusBehindAProxyThatRefusesItGoesInParts: a proxy that
// does not pass the tus endpoint (404), or its PATCHes (405), or caps
// request bodies (413 without the server's code), sends the file in parts
// instead, and the client's next large file straight in parts.
func TestUploadFile_tusBehindAProxyThatRefusesItGoesInParts(t *testing.T) {
	for _, c := range []struct {
		name  string
		ends  bool // the upload was created, then refused: the client ends it
		fault fault
	}{
		{"no endpoint", false, func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/api/v0/tus/") {
				return false
			}
			http.NotFound(w, r)
			return true
		}},
		{"no PATCH", true, func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPatch {
				return false
			}
			w.WriteHeader(http.StatusMethodNotAllowed)
			w.Write([]byte("<html>405 Not Allowed</html>"))
			return true
		}},
		{"a cap on bodies", true, func(w http.ResponseWriter, r *http.Request) bool {
			if r.ContentLength <= 1<<20 {
				return false
			}
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			w.Write([]byte("<html>413 Request Entity Too Large</html>"))
			return true
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, nil)
			path, content := writeRandom(t, "proxied.bin", int(3*e.part)+2<<20+5)
			e.inject(c.fault)
			client := e.client(nil)
			f, err := client.File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
			if err != nil || f.SourceHash != sum(content) || !bytes.Equal(e.stored(f), content) {
				t.Fatalf("UploadFile = %+v, %v", f, err)
			}
			if e.count("POST multipart") != 1 {
				t.Errorf("%d open uploads, want 1: the parts after tus was refused", e.count("POST multipart"))
			}
			if n := e.count("DELETE tus upload"); c.ends != (n == 1) {
				t.Errorf("%d tus uploads ended", n)
			}
			creates := e.tusCreates()
			path2, content2 := writeRandom(t, "proxied2.bin", int(3*e.part)+2<<20+7)
			if f, err := client.File.UploadFile(t.Context(), path2, perseus.WithPartSize(e.part)); err != nil || f.SourceHash != sum(content2) {
				t.Fatalf("the second UploadFile = %+v, %v", f, err)
			}
			if e.tusCreates() != creates || e.count("POST multipart") != 2 {
				t.Errorf("the second file: %d tus uploads begun, %d open uploads; want none, and 2 in all", e.tusCreates()-creates, e.count("POST multipart"))
			}
		})
	}
}

// TestUploadFile_tusChecksTheFileItselfWhereTheServerDidNotSay: an answer
// that does not echo Perseus-File-Checksum (an older replica ignored it)
// has the client hash the file: a match is the upload; a mismatch (the
// bytes changed on the way, and nobody checked) deletes the file made of
// them and fails.
func TestUploadFile_tusChecksTheFileItselfWhereTheServerDidNotSay(t *testing.T) {
	for _, flip := range []bool{false, true} {
		t.Run(map[bool]string{false: "intact", true: "changed on the way"}[flip], func(t *testing.T) {
			e := newEnv(t, nil)
			path, content := writeRandom(t, "old-replica.bin", int(3*e.part)+2<<20+5)
			var once atomic.Bool
			e.inject(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPatch {
					return false
				}
				r.Header.Del("Perseus-File-Checksum") // as a server that does not know it
				if flip && !once.Swap(true) {
					r.Body = io.NopCloser(&flipper{r: r.Body, at: 1000})
				}
				return false
			})
			f, err := e.client(nil).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
			if !flip {
				if err != nil || f.SourceHash != sum(content) {
					t.Fatalf("UploadFile = %+v, %v", f, err)
				}
				return
			}
			if !errors.Is(err, perseus.ErrUploadFailed) || !strings.Contains(err.Error(), "changed on the way") {
				t.Fatalf("UploadFile = %+v, %v; want ErrUploadFailed", f, err)
			}
			page, err := e.client(nil).File.ListFilesPage(t.Context(), perseus.ListOptions{}, "")
			if err != nil || len(page.Files) != 0 {
				t.Errorf("files left: %+v, %v; want none", page, err)
			}
		})
	}
}

// loseLastAnswer lets the server take the PATCH that ends an upload (the
// one with the file's checksum), then closes the client's connection
// unanswered: a client that does not retry keeps the upload to resume.
func loseLastAnswer(e *env) fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPatch || r.Header.Get("Perseus-File-Checksum") == "" {
			return false
		}
		e.h.ServeHTTP(httptest.NewRecorder(), r)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return true
	}
}

// finishUnanswered uploads a new file named name through a client that
// does not retry, losing the answer to the PATCH that finishes it: the
// server has the file, and the client's state the upload to resume.
func finishUnanswered(t *testing.T, e *env, name string) (path string, content []byte) {
	path, content = writeRandom(t, name, int(3*e.part)+2<<20+5)
	e.inject(loseLastAnswer(e))
	if _, err := e.client(nil, perseus.WithRetry(perseus.RetryPolicy{})).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part)); err == nil {
		t.Fatal("an upload whose last answer was lost succeeded with no retries")
	}
	return path, content
}

// TestUploadFile_tusResumedUploadOfAnotherVersionGoesAnew: a run resumes an
// upload a run before finished, unanswered, of the file as it was; the
// file was replaced since by other bytes of its size and time. The
// finished upload's file stays (it is of those bytes), and the file as it
// is now is uploaded anew.
func TestUploadFile_tusResumedUploadOfAnotherVersionGoesAnew(t *testing.T) {
	e := newEnv(t, nil)
	path, _ := finishUnanswered(t, e, "replaced.bin")
	fi, _ := os.Stat(path)
	_, content := writeRandom(t, "other.bin", int(fi.Size()))
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, fi.ModTime(), fi.ModTime())
	f, err := e.client(nil).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
	if err != nil || f.SourceHash != sum(content) || !bytes.Equal(e.stored(f), content) {
		t.Fatalf("UploadFile = %+v, %v; want the file as it is now", f, err)
	}
	page, err := e.client(nil).File.ListFilesPage(t.Context(), perseus.ListOptions{}, "")
	if err != nil || len(page.Files) != 2 || e.tusCreates() != 2 {
		t.Fatalf("%d files (%v), %d tus uploads; want both versions, 2", len(page.Files), err, e.tusCreates())
	}
}

// TestUploadFile_tusResumedUploadWhoseFileWasDeletedGoesAnew: a run resumes
// an upload a run before finished, unanswered; its file was deleted
// since. The file is uploaded anew, in the same call.
func TestUploadFile_tusResumedUploadWhoseFileWasDeletedGoesAnew(t *testing.T) {
	e := newEnv(t, nil)
	path, content := finishUnanswered(t, e, "deleted.bin")
	c := e.client(nil)
	page, err := c.File.ListFilesPage(t.Context(), perseus.ListOptions{}, "")
	if err != nil || len(page.Files) != 1 {
		t.Fatalf("files: %+v, %v; want the one uploaded", page, err)
	}
	if err := c.File.DeleteFile(t.Context(), page.Files[0].ID); err != nil {
		t.Fatal(err)
	}
	f, err := c.File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
	if err != nil || f.SourceHash != sum(content) || !bytes.Equal(e.stored(f), content) || f.ID == page.Files[0].ID {
		t.Fatalf("UploadFile = %+v, %v; want a new file of the content", f, err)
	}
}
