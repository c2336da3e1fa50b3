package ingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/store/blob/local"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// newCore is a core over a real SQLite database and a real local store in
// a directory of the test's own, configured by tweak.
func newCore(t *testing.T, tweak ...func(*Config)) *Core {
	c, _ := newCoreIn(t, t.TempDir(), tweak...)
	return c
}

// newCoreIn is newCore with its stores in dir; it returns the blob store's
// directory too.
func newCoreIn(t *testing.T, dir string, tweak ...func(*Config)) (*Core, string) {
	t.Helper()
	ms, err := sqlite.Open(context.Background(), filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	bs, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Meta: ms, Blobs: bs, Signer: sign.New([]byte("ssssssssssssssssssssssssssssssss"))}
	for _, f := range tweak {
		f(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, filepath.Join(dir, "blobs")
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
