package local

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

// Writes larger than maxWrite go in pieces, each at its place, and the
// writeback keeps count of them.
func TestWritesLargerThanMaxWriteLandWhole(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const base = 12345 // a part's offset in its assembly
	data := make([]byte, writebackStep+3*maxWrite+17)
	rand.Read(data)
	var wb writeback
	for _, b := range [][]byte{data[:maxWrite+1], data[maxWrite+1 : 5*maxWrite+2], data[5*maxWrite+2:]} {
		if n, err := wb.writeAt(f, base, b); n != len(b) || err != nil {
			t.Fatalf("writeAt(%d bytes) = %d, %v", len(b), n, err)
		}
	}
	if wb.n != int64(len(data)) || wb.started < writebackStep {
		t.Errorf("after %d bytes the writeback counts %d written, %d started", len(data), wb.n, wb.started)
	}
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got, base); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("the bytes read back differ from those written")
	}
}
