package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// The baseline's copies, direct or through the page cache, copy the file
// whole (a tail shorter than a page included), and its hash is SHA-256.
func TestBaselineCopiesAndHashesWhole(t *testing.T) {
	for _, size := range []int{0, 100, 3<<20 + 123, 4 << 20} {
		dir := t.TempDir()
		src := filepath.Join(dir, "src.bin")
		data := make([]byte, size)
		rand.Read(data)
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if got, err := goSHA256(src); err != nil || got != hex.EncodeToString(sum[:]) {
			t.Errorf("%d bytes: goSHA256 = %s, %v; want %x", size, got, err, sum)
		}
		for _, direct := range []bool{true, false} {
			out := t.TempDir()
			if err := durableCopy(src, out, direct); err != nil {
				t.Fatalf("%d bytes, direct %v: %v", size, direct, err)
			}
			if got, err := os.ReadFile(filepath.Join(out, "src.bin")); err != nil || !bytes.Equal(got, data) {
				t.Errorf("%d bytes, direct %v: the copy holds %d bytes (%v), not the same", size, direct, len(got), err)
			}
		}
	}
}
