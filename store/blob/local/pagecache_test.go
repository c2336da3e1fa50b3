package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/perseus-go/perseus/store/blob"
)

// Through the page cache, writes larger than maxWrite go in pieces, each at
// its place, and the writeback keeps count of them.
func TestWritesLargerThanMaxWriteLandWhole(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const base = 12345 // a part's offset in its assembly
	data := make([]byte, writebackStep+3*maxWrite+17)
	rand.Read(data)
	wb := writeback{noDirect: true}
	for _, b := range [][]byte{data[:maxWrite+1], data[maxWrite+1 : 5*maxWrite+2], data[5*maxWrite+2:]} {
		if n, err := wb.writeAt(f, base, b); n != len(b) || err != nil {
			t.Fatalf("writeAt(%d bytes) = %d, %v", len(b), n, err)
		}
	}
	if err := wb.flush(f, base); err != nil {
		t.Fatal(err)
	}
	if wb.n != int64(len(data)) || wb.started < writebackStep {
		t.Errorf("after %d bytes the writeback counts %d written, %d started", len(data), wb.n, wb.started)
	}
	readBack(t, f, base, data)
}

// Whatever the sizes and alignment of the writes, the bytes land in place:
// whole blocks with direct I/O (from the caller's buffer or through the
// stage), heads and tails through the page cache. A file smaller than the
// stage goes through the page cache alone.
func TestDirectWritesLandWhole(t *testing.T) {
	dir := t.TempDir()
	probe, err := os.Create(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	direct := setDirect(probe, true) == nil
	probe.Close()

	data := make([]byte, 5*stageSize+3*directAlign+123)
	rand.Read(data)
	big := alignedBuf(len(data)) // aligned: the whole-stage writes go straight from it
	copy(*big, data)
	for _, tc := range []struct {
		name   string
		base   int64
		cuts   []int // where the writes end
		from   []byte
		direct bool  // expect direct writes where the file system takes them
		size   int64 // the writer's size (viaCacheFor), 0: none given
	}{
		{"aligned, whole stages", 0, []int{stageSize, 3 * stageSize, len(data)}, *big, true, 0},
		{"aligned, odd pieces", 16 << 20, []int{1, 4095, 70000, stageSize + 5, 4 * stageSize, len(data)}, data, true, 0},
		{"unaligned base", 12345, []int{100, 2 * stageSize, len(data)}, data, true, 0},
		{"a small file", 0, []int{1000, 300000}, data, false, 0},
		{"a small file, said so", 0, []int{1000, stageSize - 1}, *big, false, stageSize - 1},
		{"a file of unknown size: its first MiB cached", 0, []int{stageSize, 4 * stageSize}, *big, true, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "data"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var wb writeback
			if tc.size != 0 {
				wb.viaCache = viaCacheFor(tc.size)
			}
			prev, wasDirect := 0, false
			for _, c := range tc.cuts {
				if n, err := wb.writeAt(f, tc.base, tc.from[prev:c]); n != c-prev || err != nil {
					t.Fatalf("writeAt(%d bytes) = %d, %v", c-prev, n, err)
				}
				wasDirect = wasDirect || isDirect(f)
				prev = c
			}
			if err := wb.flush(f, tc.base); err != nil {
				t.Fatal(err)
			}
			if isDirect(f) {
				t.Error("the file is still in direct mode after flush")
			}
			if tc.direct && direct && !wasDirect {
				t.Error("the file was never in direct mode")
			}
			// Whole blocks from an aligned buffer go without a copy: only
			// the tail, less than a block, is staged.
			if tail := int64(prev % directAlign); tc.name == "aligned, whole stages" && wb.copied != tail {
				t.Errorf("%d bytes were copied into the stage, want the tail's %d", wb.copied, tail)
			}
			if wb.n != int64(prev) || wb.stage != nil {
				t.Errorf("after %d bytes the writeback counts %d, stage kept: %v", prev, wb.n, wb.stage != nil)
			}
			readBack(t, f, tc.base, tc.from[:prev])
			switch {
			case !tc.direct && wb.directN != 0:
				t.Errorf("%d bytes of a file smaller than the stage went direct", wb.directN)
			case tc.direct && direct && wb.directN < int64(prev)-2*stageSize:
				t.Errorf("only %d of %d bytes went direct", wb.directN, prev)
			case tc.direct && !direct:
				t.Logf("the file system of %s refuses direct I/O: only the page cache was tried", dir)
			}
		})
	}
}

// readBack checks that f holds want at base.
func readBack(t *testing.T, f *os.File, base int64, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := f.ReadAt(got, base); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the bytes read back differ from those written")
	}
}

// The store's writers of large files (an object, a part, an append) write
// most of it with direct I/O, and what they commit reads back whole.
func TestWritersOfLargeFilesGoDirect(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	probe, err := os.Create(filepath.Join(root, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	if setDirect(probe, true) != nil {
		probe.Close()
		t.Skipf("the file system of %s refuses direct I/O", root)
	}
	probe.Close()
	ctx := context.Background()
	const size = 4 * stageSize
	data := *alignedBuf(size)
	rand.Read(data)
	write := func(w io.Writer) {
		for off := 0; off < size; off += stageSize {
			if _, err := w.Write(data[off : off+stageSize]); err != nil {
				t.Fatal(err)
			}
		}
	}
	direct := func(what string, wb *writeback, want int64) {
		if wb.directN != want {
			t.Errorf("%s: %d bytes went direct, want %d", what, wb.directN, want)
		}
	}

	w, _ := s.Create(ctx, "obj")
	write(w)
	direct("Create (size unknown: its first MiB cached)", &w.(*writer).wb, size-stageSize)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "obj"); !bytes.Equal(got, data) {
		t.Error("the object read back differs from what was written")
	}

	pw, err := s.CreatePart(ctx, "asm", size, 0, blob.Part{Number: 1, Size: size, SHA256: sumOf(data)})
	if err != nil {
		t.Fatal(err)
	}
	write(pw)
	direct("CreatePart", &pw.(*partWriter).wb, size)
	if !isDirect(pw.(*partWriter).f) {
		t.Error("CreatePart: the data file is not in direct mode")
	}
	if err := pw.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if sum, n, err := s.HashAssembly(ctx, "asm"); err != nil || sum != sumOf(data) || n != size {
		t.Errorf("HashAssembly = %s, %d, %v; want %s", sum, n, err, sumOf(data))
	}

	aw, err := s.Append(ctx, "app", 0, size)
	if err != nil {
		t.Fatal(err)
	}
	write(aw)
	direct("Append", &aw.(*appendWriter).wb, size)
	if err := aw.Commit(ctx, []byte("state")); err != nil {
		t.Fatal(err)
	}
	if n, _, err := s.Appended(ctx, "app"); err != nil || n != size {
		t.Errorf("Appended = %d, %v; want %d", n, err, size)
	}
}

// read returns the object under key, whole.
func read(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), key, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// After an error a writeback takes nothing more, and its flush fails, so
// that no commit follows a write that failed.
func TestWritebackKeepsItsFirstError(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // every write fails
	for _, wb := range []*writeback{{}, {noDirect: true}} {
		if _, err := wb.writeAt(f, 0, *alignedBuf(stageSize)); err == nil {
			t.Fatal("a write to a closed file succeeded")
		}
		if n, err := wb.writeAt(f, 0, []byte("more")); n != 0 || err == nil {
			t.Errorf("a write after an error = %d, %v; want 0 and the error", n, err)
		}
		if err := wb.flush(f, 0); err == nil {
			t.Error("flush after an error succeeded")
		}
	}
}
