package perseus_test

import (
	"crypto/rand"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/perseus-go/perseus"
)

// HashFile is the client's first pass over every upload (and the whole of a
// re-upload of known content): it should run at the speed of SHA-256 itself.

func BenchmarkHashFile(b *testing.B) {
	const size = 64 << 20
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		if _, _, err := perseus.HashFile(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSHA256 is the limit HashFile is held to: SHA-256 of bytes in memory.
func BenchmarkSHA256(b *testing.B) {
	data := make([]byte, 1<<20)
	rand.Read(data)
	h := sha256.New()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		h.Write(data)
	}
}
