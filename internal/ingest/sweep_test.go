package ingest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus/internal/ingest"
	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/store/blob/local"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// TestSweepRemovesAbandonedRecordsAndOrphansOnly leaves an uploaded file, an
// abandoned pending record and an orphaned object, sweeps, and checks that
// exactly the abandoned record and the orphan are gone.
func TestSweepRemovesAbandonedRecordsAndOrphansOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ms, err := sqlite.Open(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	bs, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	core, err := ingest.New(ingest.Config{Meta: ms, Blobs: bs, Signer: sign.New(make([]byte, 32)),
		PendingTTL: time.Millisecond, OrphanGrace: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	hash := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

	// An uploaded file with its content.
	kept, _, _ := ms.Claim(ctx, meta.File{ID: "kept", Tenant: "t", Name: "k", SourceHash: hash("k"), CreatedAt: time.Now()})
	ms.Transition(ctx, kept.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1})
	put(t, bs, "files/t/"+kept.SourceHash[:2]+"/"+kept.SourceHash+"/kept", "k")
	// An abandoned pending record.
	ms.Claim(ctx, meta.File{ID: "abandoned", Tenant: "t", Name: "a", SourceHash: hash("a"), CreatedAt: time.Now()})
	// Content no record refers to.
	orphanHash := hash("o")
	put(t, bs, "files/t/"+orphanHash[:2]+"/"+orphanHash+"/gone", "o")
	time.Sleep(5 * time.Millisecond)

	rep, err := core.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.AbandonedRecords != 1 || rep.OrphanedObjects != 1 {
		t.Fatalf("Sweep = %+v, want 1 abandoned record and 1 orphan", rep)
	}
	if _, err := ms.Get(ctx, "t", "abandoned"); err != meta.ErrNotFound {
		t.Fatalf("abandoned record still there: %v", err)
	}
	if f, err := ms.Get(ctx, "t", "kept"); err != nil || f.Status != meta.StatusUploaded {
		t.Fatalf("uploaded record touched: %+v %v", f, err)
	}
	var left []string
	filepath.WalkDir(filepath.Join(dir, "blobs", "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 1 || !strings.HasSuffix(left[0], "/kept") {
		t.Fatalf("objects left after sweep: %v, want only the uploaded file's content", left)
	}
}

func put(t *testing.T, bs *local.Store, key, data string) {
	t.Helper()
	w, err := bs.Create(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(data))
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}
