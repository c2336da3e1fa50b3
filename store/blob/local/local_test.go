package local_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/blob/blobtest"
	"github.com/perseus-go/perseus/store/blob/local"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := local.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestKeysCannotEscapeRoot(t *testing.T) {
	s, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../x", "/etc/passwd", "a/../../b", "a//b", "", "a/./b"} {
		if _, err := s.Create(t.Context(), key); err == nil {
			t.Errorf("Create(%q) succeeded, want an error", key)
		}
	}
}

func TestAssemblySurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("the first part")
	sum := sha256.Sum256(body)
	p := blob.Part{Number: 1, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
	w, err := s.CreatePart(t.Context(), "parts/x", 100, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body)
	if err := w.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A part cut off by the crash leaves no trace in the listing.
	cut, err := s.CreatePart(t.Context(), "parts/x", 100, 50, blob.Part{Number: 2, Size: 50, SHA256: p.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	cut.Write([]byte("half"))

	again, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := again.AssemblyParts(t.Context(), "parts/x")
	if err != nil || len(parts) != 1 || parts[0].Number != 1 || parts[0].SHA256 != p.SHA256 || parts[0].Size != p.Size {
		t.Fatalf("AssemblyParts after reopening = %+v, %v; want part 1 as committed", parts, err)
	}
	cut.Abort()
}

func TestOpenRemovesOnlyStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := local.Open(dir); err != nil {
		t.Fatal(err)
	}
	old, fresh := filepath.Join(dir, "tmp", "put-old"), filepath.Join(dir, "tmp", "put-fresh")
	os.WriteFile(old, []byte("crashed writer"), 0o600)
	os.WriteFile(fresh, []byte("another replica writing"), 0o600)
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	if _, err := local.Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("a stale temp file survived Open: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temp file was removed: %v", err)
	}
}
