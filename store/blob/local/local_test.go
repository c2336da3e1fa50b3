package local_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

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
