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
// a directory of the test's own.
func newCore(t *testing.T) *Core {
	t.Helper()
	dir := t.TempDir()
	ms, err := sqlite.Open(context.Background(), filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	bs, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Meta: ms, Blobs: bs, Signer: sign.New([]byte("ssssssssssssssssssssssssssssssss"))})
	if err != nil {
		t.Fatal(err)
	}
	return c
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
