package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/perseus-go/perseus/store/blob"
	s3blob "github.com/perseus-go/perseus/store/blob/s3"
	"github.com/perseus-go/perseus/store/meta"
)

// A complete is safe to retry: whatever step a store failing cut short, the
// retry ends in the verdict (200 uploaded, 422 failed) or in a 503 to retry
// again, and never in a 404 for an upload a complete began. These tests cut
// each step, on S3 (the store completes the upload) and through the server
// (the store assembles the parts), with faults injected around the real
// stores.

// flakyS3 is the real S3 store, with the failures of an outage injected
// into what completing a multipart upload calls.
type flakyS3 struct {
	*s3blob.Store
	mu sync.Mutex
	// complete, when set, stands for the next CompleteMultipart (once);
	// real is the store's own.
	complete func(real func() (string, error), hide func()) (string, error)
	hidden   map[string]bool // uploads the store no longer lists, their object not there yet
	finish   func() error    // completes the hidden upload, as the store at work would
	readCut  atomic.Bool     // the next Open's reader fails after 1 MiB
}

// newFlakyS3Env is an s3Env whose blob store is a flakyS3 and whose
// metadata store can be cut (flakyMeta); its parts go straight to the
// store if direct, else through the server (relayed, the default).
func newFlakyS3Env(t *testing.T, direct bool) (*s3Env, *flakyS3, *flakyMeta) {
	var fs *flakyS3
	var fm *flakyMeta
	e := newS3Env(t, func(c *Config) {
		fs = &flakyS3{Store: c.Blobs.(*s3blob.Store), hidden: map[string]bool{}}
		fm = &flakyMeta{faultyMeta: &faultyMeta{Store: c.Meta}}
		fm.getsLeft.Store(-1)
		c.Blobs, c.Meta, c.DirectParts = fs, fm, direct
	})
	return e, fs, fm
}

// directParts sets whether parts go straight to the store.
func directParts(direct bool) func(*Config) { return func(c *Config) { c.DirectParts = direct } }

// inBothModes runs fn with parts relayed through the server (the default)
// and with parts sent straight to the store.
func inBothModes(t *testing.T, fn func(t *testing.T, direct bool)) {
	t.Run("relayed", func(t *testing.T) { fn(t, false) })
	t.Run("direct", func(t *testing.T) { fn(t, true) })
}

// flakyMeta is a faultyMeta that can also fail from the middle of a request on.
type flakyMeta struct {
	*faultyMeta
	getsLeft atomic.Int64 // Gets that succeed before all fail; -1: no limit
}

// failGetsAfter lets n more Gets succeed and fails the later ones; -1 fails none.
func (f *flakyMeta) failGetsAfter(n int64) { f.getsLeft.Store(n) }

func (f *flakyMeta) Get(ctx context.Context, tenant, id string) (meta.File, error) {
	if f.getsLeft.Load() >= 0 && f.getsLeft.Add(-1) < 0 {
		return meta.File{}, errDown
	}
	return f.faultyMeta.Get(ctx, tenant, id)
}

func (f *flakyS3) CompleteMultipart(ctx context.Context, key, id string, parts []blob.Part) (string, error) {
	return f.around(key, id, func() (string, error) { return f.Store.CompleteMultipart(context.Background(), key, id, parts) })
}

func (f *flakyS3) CompleteStreamed(ctx context.Context, key, id string, parts []blob.Part) (string, bool, error) {
	var intact bool
	etag, err := f.around(key, id, func() (string, error) {
		etag, ok, err := f.Store.CompleteStreamed(context.Background(), key, id, parts)
		intact = ok
		return etag, err
	})
	return etag, intact, err
}

// around completes upload id by real, or as f.complete stands for it.
func (f *flakyS3) around(key, id string, real func() (string, error)) (string, error) {
	f.mu.Lock()
	stand, hidden := f.complete, f.hidden[id]
	f.complete = nil
	f.mu.Unlock()
	if hidden {
		return "", fmt.Errorf("s3: complete multipart upload %s: %w", key, blob.ErrNotFound)
	}
	if stand == nil {
		return real()
	}
	hide := func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.hidden[id] = true
		f.finish = func() error {
			f.mu.Lock()
			delete(f.hidden, id)
			f.mu.Unlock()
			_, err := real()
			return err
		}
	}
	return stand(real, hide)
}

func (f *flakyS3) isHidden(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hidden[id]
}

func (f *flakyS3) ListMultipart(ctx context.Context, prefix string, fn func(blob.Upload) error) error {
	return f.Store.ListMultipart(ctx, prefix, func(u blob.Upload) error {
		if f.isHidden(u.ID) {
			return nil
		}
		return fn(u)
	})
}

func (f *flakyS3) ListParts(ctx context.Context, key, id string) ([]blob.Part, error) {
	if f.isHidden(id) {
		return nil, fmt.Errorf("s3: list parts of %s: %w", key, blob.ErrNotFound)
	}
	return f.Store.ListParts(ctx, key, id)
}

func (f *flakyS3) Open(ctx context.Context, key string, off int64) (io.ReadCloser, error) {
	r, err := f.Store.Open(ctx, key, off)
	if err == nil && f.readCut.Swap(false) {
		r = &cutReader{ReadCloser: r, left: 1 << 20}
	}
	return r, err
}

// cutReader fails once it has given left bytes, as a connection cut does.
type cutReader struct {
	io.ReadCloser
	left int
}

func (r *cutReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, errDown
	}
	n, err := r.ReadCloser.Read(p[:min(len(p), r.left)])
	r.left -= n
	return n, err
}

// completeAnswer is what a complete answered: its status, its error code
// and the file's status.
type completeAnswer struct {
	status           int
	code, fileStatus string
	body             string
}

func complete(t *testing.T, m *mp, id, upload string, refs []partRef) completeAnswer {
	t.Helper()
	f, status, body := m.complete(id, upload, refs)
	var e struct {
		Code string `json:"code"`
	}
	json.Unmarshal([]byte(body), &e)
	return completeAnswer{status: status, code: e.Code, fileStatus: f.Status, body: strings.TrimSpace(body)}
}

func wantAnswer(t *testing.T, what string, got completeAnswer, status int, code string) {
	t.Helper()
	if got.status != status || got.code != code {
		t.Fatalf("%s: %d %s, want %d %q", what, got.status, got.body, status, code)
	}
}

// lostAnswer completes the upload, and then the answer is lost.
func lostAnswer(real func() (string, error), _ func()) (string, error) {
	if _, err := real(); err != nil {
		return "", err
	}
	return "", errDown
}

func TestCompleteOnS3IsSafeToRetryWhereverTheStoreFailed(t *testing.T) {
	tests := []struct {
		name string
		// cut sets the fault up before the first complete; mend, if set,
		// runs between the first complete and the retry, and may complete
		// again (again).
		cut   func(fs *flakyS3, fm *flakyMeta)
		mend  func(t *testing.T, fs *flakyS3, fm *flakyMeta, again func() completeAnswer)
		first int // what the first complete answers
		// directOnly: the fault is in a step relayed parts do not take
		directOnly bool
	}{
		{"the store down before it completed", func(fs *flakyS3, _ *flakyMeta) {
			fs.complete = func(func() (string, error), func()) (string, error) { return "", errDown }
		}, nil, http.StatusServiceUnavailable, false},
		{"the store completed and its answer was lost", func(fs *flakyS3, _ *flakyMeta) {
			fs.complete = lostAnswer
		}, nil, http.StatusServiceUnavailable, false},
		{"the store completed and said NoSuchUpload to a retry of its client", func(fs *flakyS3, _ *flakyMeta) {
			fs.complete = func(real func() (string, error), _ func()) (string, error) {
				if _, err := real(); err != nil {
					return "", err
				}
				return "", fmt.Errorf("s3: complete multipart upload: %w", blob.ErrNotFound)
			}
		}, nil, http.StatusOK, false},
		{"the verification cut mid-read", func(fs *flakyS3, _ *flakyMeta) {
			fs.readCut.Store(true)
		}, nil, http.StatusServiceUnavailable, true}, // relayed parts are verified on their way: nothing is read
		{"the metadata store down when settling", func(fs *flakyS3, fm *flakyMeta) {
			fs.complete = func(real func() (string, error), _ func()) (string, error) {
				etag, err := real()
				fm.down.Store(true)
				return etag, err
			}
		}, func(_ *testing.T, _ *flakyS3, fm *flakyMeta, _ func() completeAnswer) { fm.down.Store(false) }, http.StatusServiceUnavailable, false},
		{"the store still at work when asked again", func(fs *flakyS3, _ *flakyMeta) {
			fs.complete = func(_ func() (string, error), hide func()) (string, error) {
				hide()
				return "", errDown
			}
		}, func(t *testing.T, fs *flakyS3, _ *flakyMeta, again func() completeAnswer) {
			// Not yet there: answered 503, never 404.
			wantAnswer(t, "complete while the store is at work", again(), http.StatusServiceUnavailable, "unavailable")
			if err := fs.finish(); err != nil {
				t.Fatal(err)
			}
		}, http.StatusServiceUnavailable, false},
		{"the store said done before its object was there", func(fs *flakyS3, _ *flakyMeta) {
			fs.complete = func(_ func() (string, error), hide func()) (string, error) {
				hide()
				return `"etag"`, nil
			}
		}, func(t *testing.T, fs *flakyS3, _ *flakyMeta, _ func() completeAnswer) {
			if err := fs.finish(); err != nil {
				t.Fatal(err)
			}
		}, http.StatusServiceUnavailable, false},
	}
	inBothModes(t, func(t *testing.T, direct bool) {
		for _, tt := range tests {
			if tt.directOnly && !direct {
				continue
			}
			t.Run(tt.name, func(t *testing.T) {
				e, fs, fm := newFlakyS3Env(t, direct)
				m := newMP(t, e.url)
				content := randomBytes(5<<20 + 9)
				id := e.pendingFile(content).Rec.ID
				upload, refs := sendAll(t, m, id, content, 5<<20)
				tt.cut(fs, fm)
				got := complete(t, m, id, upload, refs)
				if tt.first == http.StatusOK {
					wantAnswer(t, "complete", got, http.StatusOK, "")
				} else {
					wantAnswer(t, "complete cut short", got, tt.first, "unavailable")
				}
				if tt.mend != nil {
					tt.mend(t, fs, fm, func() completeAnswer { return complete(t, m, id, upload, refs) })
				}
				got = complete(t, m, id, upload, refs)
				if wantAnswer(t, "complete again", got, http.StatusOK, ""); got.fileStatus != "uploaded" {
					t.Fatalf("complete again: file %s, want uploaded", got.fileStatus)
				}
				e.wantOnlyContent(id, content)
			})
		}
	})
}

func TestCompleteOnS3OfWrongBytesEndsFailedWhereverTheStoreFailed(t *testing.T) {
	tests := []struct {
		name  string
		cut   func(fs *flakyS3, fm *flakyMeta)
		first completeAnswer // status and code of the first complete
	}{
		{"nothing: the verdict's answer was lost", func(*flakyS3, *flakyMeta) {},
			completeAnswer{status: http.StatusUnprocessableEntity, code: "hash_mismatch"}},
		{"the store completed and its answer was lost", func(fs *flakyS3, _ *flakyMeta) { fs.complete = lostAnswer },
			completeAnswer{status: http.StatusServiceUnavailable, code: "unavailable"}},
		{"the metadata store down when recording the verdict", func(fs *flakyS3, fm *flakyMeta) {
			fs.complete = func(real func() (string, error), _ func()) (string, error) {
				etag, err := real()
				fm.down.Store(true)
				return etag, err
			}
		}, completeAnswer{status: http.StatusServiceUnavailable, code: "unavailable"}},
	}
	inBothModes(t, func(t *testing.T, direct bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e, fs, fm := newFlakyS3Env(t, direct)
				m := newMP(t, e.url)
				id := e.pendingFile(randomBytes(5<<20 + 9)).Rec.ID
				upload, refs := sendAll(t, m, id, randomBytes(5<<20+9), 5<<20)
				tt.cut(fs, fm)
				wantAnswer(t, "complete", complete(t, m, id, upload, refs), tt.first.status, tt.first.code)
				fm.down.Store(false)
				// Asked again, it gives the verdict, however many times.
				for range 2 {
					wantAnswer(t, "complete again", complete(t, m, id, upload, refs), http.StatusUnprocessableEntity, "hash_mismatch")
				}
				if f := e.status(id); f.Status != "failed" {
					t.Fatalf("file = %+v, want failed", f)
				}
				if keys, ups := e.objects(), e.uploads(); len(keys) != 0 || len(ups) != 0 {
					t.Errorf("left behind: objects %v, uploads %+v", keys, ups)
				}
			})
		}
	})
}

// TestCompleteOnS3AnswersUnavailableWhenItCannotTellWhatBecameOfTheUpload:
// the upload is gone and the metadata store cannot say what became of the
// file: 503, to ask again, not 404.
func TestCompleteOnS3AnswersUnavailableWhenItCannotTellWhatBecameOfTheUpload(t *testing.T) {
	inBothModes(t, testUnavailableWhenItCannotTell)
}

func testUnavailableWhenItCannotTell(t *testing.T, direct bool) {
	e, fs, fm := newFlakyS3Env(t, direct)
	m := newMP(t, e.url)
	content := randomBytes(5<<20 + 9)
	id := e.pendingFile(content).Rec.ID
	upload, refs := sendAll(t, m, id, content, 5<<20)
	fs.complete = func(_ func() (string, error), hide func()) (string, error) {
		hide() // the store at work: no upload, no object yet
		return "", errDown
	}
	wantAnswer(t, "complete", complete(t, m, id, upload, refs), http.StatusServiceUnavailable, "unavailable")
	fm.failGetsAfter(1) // the complete's own lookup, and no other
	wantAnswer(t, "complete again", complete(t, m, id, upload, refs), http.StatusServiceUnavailable, "unavailable")
	fm.failGetsAfter(-1)
	if err := fs.finish(); err != nil {
		t.Fatal(err)
	}
	if got := complete(t, m, id, upload, refs); got.status != http.StatusOK || got.fileStatus != "uploaded" {
		t.Fatalf("complete once all is back: %d %s", got.status, got.body)
	}
	e.wantOnlyContent(id, content)
}

// once runs fn the first time it is called, as a hook of faultyBlobs.
func once(fn func()) func() {
	var o sync.Once
	return func() { o.Do(fn) }
}

func TestCompleteThroughServerIsSafeToRetryWhereverTheStoreFailed(t *testing.T) {
	tests := []struct {
		name string
		down func(e *testEnv) *atomic.Bool // what goes down once the parts are hashed
	}{
		{"the metadata store down when settling", func(e *testEnv) *atomic.Bool { return &e.meta.down }},
		{"the content store down when committing", func(e *testEnv) *atomic.Bool { return &e.blobs.down }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, smallParts)
			m := newMP(t, e.url)
			content := randomBytes(12 << 10)
			id := e.pendingFile(content).Rec.ID
			upload, refs := sendAll(t, m, id, content, 4<<10)
			down := tt.down(e)
			e.blobs.hashed = once(func() { down.Store(true) })
			wantAnswer(t, "complete", complete(t, m, id, upload, refs), http.StatusServiceUnavailable, "unavailable")
			down.Store(false)
			if got := complete(t, m, id, upload, refs); got.status != http.StatusOK || got.fileStatus != "uploaded" {
				t.Fatalf("complete again: %d %s, want the file uploaded", got.status, got.body)
			}
			if stored := e.storedFiles(); len(stored) != 1 {
				t.Fatalf("stored %d files, want the content alone", len(stored))
			}
		})
	}
}

func TestCompleteThroughServerOfWrongBytesEndsFailedWhereverTheStoreFailed(t *testing.T) {
	tests := []struct {
		name  string
		cut   func(e *testEnv)
		first completeAnswer
	}{
		{"nothing: the verdict's answer was lost", func(*testEnv) {},
			completeAnswer{status: http.StatusUnprocessableEntity, code: "hash_mismatch"}},
		{"the metadata store down when recording the verdict", func(e *testEnv) {
			e.blobs.hashed = once(func() { e.meta.down.Store(true) })
		}, completeAnswer{status: http.StatusServiceUnavailable, code: "unavailable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, smallParts)
			m := newMP(t, e.url)
			id := e.pendingFile(randomBytes(12 << 10)).Rec.ID
			upload, refs := sendAll(t, m, id, randomBytes(12<<10), 4<<10)
			tt.cut(e)
			wantAnswer(t, "complete", complete(t, m, id, upload, refs), tt.first.status, tt.first.code)
			e.meta.down.Store(false)
			for range 2 {
				wantAnswer(t, "complete again", complete(t, m, id, upload, refs), http.StatusUnprocessableEntity, "hash_mismatch")
			}
			if f := e.status(id); f.Status != "failed" {
				t.Fatalf("file = %+v, want failed", f)
			}
			e.wantNothingStored()
		})
	}
}
