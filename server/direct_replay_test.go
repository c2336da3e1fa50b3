package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/blob/local"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// replayStore is a local store that presigns (so the server verifies staged
// uploads) and, once, lets a "replayed PUT" overwrite the staged object just
// before the server copies it: fault injection for the window between the
// hash and the copy.
type replayStore struct {
	*local.Store
	replay func()
}

func (r *replayStore) PresignPut(_ context.Context, key string, _ time.Duration) (string, error) {
	return "http://presigned.invalid/" + key, nil
}

func (r *replayStore) Copy(ctx context.Context, src, dst string) error {
	if r.replay != nil {
		r.replay()
		r.replay = nil
	}
	return r.Store.Copy(ctx, src, dst)
}

// TestReplayedPutBetweenHashAndCopyIsNeverUploaded: the staged bytes are
// right when hashed and wrong when copied. The server must not record
// uploaded for the wrong bytes, must not keep them, and must end the file
// failed once it looks at the staged object again.
func TestReplayedPutBetweenHashAndCopyIsNeverUploaded(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ms, err := sqlite.Open(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	ls, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	store := &replayStore{Store: ls}
	srv, err := New(Config{Meta: ms, Blobs: store, SigningKey: bytes.Repeat([]byte("k"), 32),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	good, evil := []byte("the declared bytes"), []byte("EVIL EVIL EVIL!!!!")
	rec, _, err := ms.Claim(ctx, meta.File{ID: "f1", Tenant: "t", Name: "x", SourceHash: hashOf(good), CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	staged := stagingDir("t", rec.ID) + "n1"
	writeBlob(t, store, staged, good)
	store.replay = func() { writeBlob(t, store, staged, evil) }

	srv.core.VerifyDirect(ctx) // hashes good, copies evil, must notice
	if f, _ := ms.Get(ctx, "t", rec.ID); f.Status == meta.StatusUploaded {
		t.Fatal("recorded uploaded although the copied bytes are not the declared ones")
	}
	if _, err := store.Stat(ctx, contentKey("t", rec.SourceHash, rec.ID)); err != blob.ErrNotFound {
		t.Fatalf("the wrong copy was kept: Stat err = %v", err)
	}
	srv.core.VerifyDirect(ctx) // the staged object now holds the wrong bytes
	f, _ := ms.Get(ctx, "t", rec.ID)
	if f.Status != meta.StatusFailed {
		t.Fatalf("after the second look the file is %s, want failed", f.Status)
	}
}

func writeBlob(t *testing.T, s blob.Store, key string, data []byte) {
	t.Helper()
	w, err := s.Create(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}
