package local

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
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
		direct bool // expect direct writes where the file system takes them
	}{
		{"aligned, whole stages", 0, []int{stageSize, 3 * stageSize, len(data)}, *big, true},
		{"aligned, odd pieces", 16 << 20, []int{1, 4095, 70000, stageSize + 5, 4 * stageSize, len(data)}, data, true},
		{"unaligned base", 12345, []int{100, 2 * stageSize, len(data)}, data, true},
		{"a small file", 0, []int{1000, 300000}, data, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "data"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var wb writeback
			prev := 0
			for _, c := range tc.cuts {
				if n, err := wb.writeAt(f, tc.base, tc.from[prev:c]); n != c-prev || err != nil {
					t.Fatalf("writeAt(%d bytes) = %d, %v", c-prev, n, err)
				}
				prev = c
			}
			if err := wb.flush(f, tc.base); err != nil {
				t.Fatal(err)
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
