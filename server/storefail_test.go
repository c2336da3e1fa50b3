package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// errDown is what a store that cannot be reached returns: a plain error, not a sentinel.
var errDown = fmt.Errorf("dial tcp 127.0.0.1:5432: connect: %w", syscall.ECONNREFUSED)

// faultyMeta is the real SQLite store, failing every call while down is set.
type faultyMeta struct {
	meta.Store
	down         atomic.Bool
	failUploaded atomic.Int32 // this many Transitions to uploaded fail
}

// Unwrap lets the core find what the store can do beyond meta.Store (its
// Locker).
func (f *faultyMeta) Unwrap() meta.Store { return f.Store }

func (f *faultyMeta) fail() error {
	if f.down.Load() {
		return errDown
	}
	return nil
}

func (f *faultyMeta) Claim(ctx context.Context, r meta.File) (meta.File, bool, error) {
	if err := f.fail(); err != nil {
		return meta.File{}, false, err
	}
	return f.Store.Claim(ctx, r)
}

func (f *faultyMeta) Get(ctx context.Context, tenant, id string) (meta.File, error) {
	if err := f.fail(); err != nil {
		return meta.File{}, err
	}
	return f.Store.Get(ctx, tenant, id)
}

func (f *faultyMeta) Find(ctx context.Context, tenant string, ids, hashes []string) ([]meta.File, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.Find(ctx, tenant, ids, hashes)
}

func (f *faultyMeta) HasSize(ctx context.Context, tenant string, size int64) (bool, error) {
	if err := f.fail(); err != nil {
		return false, err
	}
	return f.Store.HasSize(ctx, tenant, size)
}

func (f *faultyMeta) Transition(ctx context.Context, id string, u meta.Update) (meta.File, error) {
	if err := f.fail(); err != nil {
		return meta.File{}, err
	}
	if u.To == meta.StatusUploaded && f.failUploaded.Add(-1) >= 0 {
		return meta.File{}, errDown
	}
	return f.Store.Transition(ctx, id, u)
}

func (f *faultyMeta) Delete(ctx context.Context, tenant, id string) (meta.File, error) {
	if err := f.fail(); err != nil {
		return meta.File{}, err
	}
	return f.Store.Delete(ctx, tenant, id)
}

func (f *faultyMeta) DeleteStale(ctx context.Context, tenant, id string, s meta.Status, before time.Time) (meta.File, error) {
	if err := f.fail(); err != nil {
		return meta.File{}, err
	}
	return f.Store.DeleteStale(ctx, tenant, id, s, before)
}

func (f *faultyMeta) KeyByHash(ctx context.Context, hash string) (meta.Key, error) {
	if err := f.fail(); err != nil {
		return meta.Key{}, err
	}
	return f.Store.KeyByHash(ctx, hash)
}

func (f *faultyMeta) Ping(ctx context.Context) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Ping(ctx)
}

// faultyBlobs is the real local store, failing writes and pings while down is set.
type faultyBlobs struct {
	blob.Store
	down       atomic.Bool
	writesFail atomic.Bool // writers made while set fail after 1 MiB
	commitFail atomic.Bool // writers made while set fail to commit
	hashed     func()      // when set, called after each HashAssembly
}

func (f *faultyBlobs) Create(ctx context.Context, key string) (blob.Writer, error) {
	if f.down.Load() {
		return nil, errDown
	}
	w, err := f.Store.Create(ctx, key)
	if err == nil && f.writesFail.Load() {
		w = &failingBlobWriter{Writer: w, left: 1 << 20}
	}
	if err == nil && f.commitFail.Load() {
		w = failingCommit{w}
	}
	return w, err
}

// failingCommit takes every byte and then cannot make them durable.
type failingCommit struct{ blob.Writer }

func (w failingCommit) Commit(context.Context) error { return errors.Join(errDown, w.Writer.Abort()) }

// failingBlobWriter fails once it has taken left bytes, as a full disk does.
type failingBlobWriter struct {
	blob.Writer
	left int
}

func (w *failingBlobWriter) Write(b []byte) (int, error) {
	if len(b) > w.left {
		n, _ := w.Writer.Write(b[:w.left])
		w.left = 0
		return n, errDown
	}
	w.left -= len(b)
	return w.Writer.Write(b)
}

func (f *faultyBlobs) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.Ping(ctx)
}

// The local store assembles multipart uploads in place; so does its wrapper.
var _ blob.Assembler = (*faultyBlobs)(nil)

func (f *faultyBlobs) asm() blob.Assembler { return f.Store.(blob.Assembler) }

func (f *faultyBlobs) CreatePart(ctx context.Context, id string, size, off int64, p blob.Part) (blob.Writer, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.asm().CreatePart(ctx, id, size, off, p)
}

func (f *faultyBlobs) AssemblyParts(ctx context.Context, id string) ([]blob.Part, error) {
	return f.asm().AssemblyParts(ctx, id)
}

func (f *faultyBlobs) HashAssembly(ctx context.Context, id string) (string, int64, error) {
	sum, n, err := f.asm().HashAssembly(ctx, id)
	if f.hashed != nil {
		f.hashed()
	}
	return sum, n, err
}

func (f *faultyBlobs) CommitAssembly(ctx context.Context, id, key string) error {
	if f.down.Load() {
		return errDown
	}
	return f.asm().CommitAssembly(ctx, id, key)
}

func (f *faultyBlobs) DeleteAssembly(ctx context.Context, id string) error {
	return f.asm().DeleteAssembly(ctx, id)
}

func (f *faultyBlobs) ListAssemblies(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	return f.asm().ListAssemblies(ctx, prefix, fn)
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := e.call("GET", p, "", nil); r.status != http.StatusOK {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	for _, down := range []*atomic.Bool{&e.meta.down, &e.blobs.down} {
		down.Store(true)
		if r := e.call("GET", "/readyz", "", nil); r.status != http.StatusServiceUnavailable {
			t.Errorf("readyz with a store down: %d %s", r.status, r.body)
		}
		if r := e.call("GET", "/healthz", "", nil); r.status != http.StatusOK {
			t.Errorf("healthz with a store down: %d %s", r.status, r.body)
		}
		down.Store(false)
	}
	if r := e.call("GET", "/readyz", "", nil); r.status != http.StatusOK {
		t.Errorf("readyz after recovery: %d %s", r.status, r.body)
	}
}

func TestStoreOutageAnswers503AndLosesNothing(t *testing.T) {
	e := newEnv(t)
	done := e.upload(keyA, "done.txt", []byte("uploaded before the outage"))
	pendingContent := []byte("pending across the outage")
	pend := e.create(keyA, "pending.txt", pendingContent)
	const stored = "stored-key"
	if err := e.meta.PutKey(context.Background(), meta.Key{ID: "k", Tenant: tenantA, Hash: HashKey(stored), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	e.meta.down.Store(true)
	for _, r := range []apiResp{
		e.create(keyA, "new.txt", []byte("new")),
		e.call("POST", "/api/v0/file/find", keyA, map[string][]string{"ids": {done.ID}}),
		e.call("GET", "/api/v0/file/"+done.ID, keyA, nil),
		e.call("GET", "/api/v0/file/"+pend.Rec.ID+"?wait=1s", keyA, nil),
		e.call("DELETE", "/api/v0/file/"+done.ID, keyA, nil),
		e.call("POST", "/api/v0/file/find", stored, map[string]any{}), // an outage is not a bad key
		e.put(pend.UploadURL, pendingContent),
	} {
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("during the outage: %d %s", r.status, r.body)
		}
	}
	e.meta.down.Store(false)

	e.blobs.down.Store(true)
	if r := e.put(pend.UploadURL, pendingContent); r.status != http.StatusServiceUnavailable {
		t.Errorf("put with the blob store down: %d %s", r.status, r.body)
	}
	e.blobs.down.Store(false)

	fs := e.find(stored, []string{done.ID, pend.Rec.ID}, nil)
	if len(fs) != 2 || fs[0].Status != "uploaded" || fs[1].Status != "pending" {
		t.Fatalf("after the outage: %+v", fs)
	}
	if r := e.put(pend.UploadURL, pendingContent); r.status != http.StatusOK || r.Status != "uploaded" {
		t.Errorf("put after the outage: %d %s", r.status, r.body)
	}
	if r := e.call("DELETE", "/api/v0/file/"+done.ID, keyA, nil); r.status != http.StatusNoContent {
		t.Errorf("delete after the outage: %d %s", r.status, r.body)
	}
}

// TestStoreWriteFailingMidUploadAnswers503: a store that fails while the
// bytes come in is the server's trouble, not the client's: 503 with a
// message, nothing kept, the file still pending for another try.
func TestStoreWriteFailingMidUploadAnswers503(t *testing.T) {
	e := newEnv(t)
	content := randomBytes(3 << 20)
	c := e.create(keyA, "big.bin", content)
	e.blobs.writesFail.Store(true)
	if r := e.put(c.UploadURL, content); r.status != http.StatusServiceUnavailable || r.Message == "" {
		t.Fatalf("PUT while the store fails: %d %q, want 503 with a message", r.status, r.Message)
	}
	if len(e.storedFiles()) != 0 {
		t.Fatal("bytes were kept")
	}
	e.blobs.writesFail.Store(false)
	if r := e.put(c.UploadURL, content); r.status != http.StatusOK || r.Status != "uploaded" {
		t.Fatalf("PUT again: %d %+v", r.status, r)
	}
}
