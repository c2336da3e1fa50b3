package perseus

import (
	"crypto/rand"
	"errors"
	"os"
	"testing"

	"github.com/minio/crc64nvme"
)

func TestFileCRC_isTheCRCOfTheFile(t *testing.T) {
	for _, size := range []int{1, 4096, 9<<20 + 12345} { // within one window (on Linux, 4 MiB mapped at once), and across three
		b := make([]byte, size)
		rand.Read(b)
		f, err := os.Open(writeTemp(t, "f", b))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := fileCRC(t.Context(), f, int64(size)); got.err != nil || got.crc != crc64nvme.Checksum(b) {
			t.Fatalf("size %d: %x, %v; want %x", size, got.crc, got.err, crc64nvme.Checksum(b))
		}
		if got := readCRC(t.Context(), f, 0, int64(size), 0); got.err != nil || got.crc != crc64nvme.Checksum(b) {
			t.Fatalf("size %d, read: %x, %v; want %x", size, got.crc, got.err, crc64nvme.Checksum(b))
		}
	}
}

// TestFileCRC_aFileCutShortIsAChangedFile: on Linux the mapping past the
// file's new end faults, and the fault is an error, not a crash.
func TestFileCRC_aFileCutShortIsAChangedFile(t *testing.T) {
	f := openCutShort(t)
	if got := fileCRC(t.Context(), f, 3<<20); !errors.Is(got.err, ErrFileChanged) {
		t.Fatalf("fileCRC of a file cut short = %x, %v; want ErrFileChanged", got.crc, got.err)
	}
	if got := readCRC(t.Context(), f, 0, 3<<20, 0); !errors.Is(got.err, ErrFileChanged) {
		t.Fatalf("readCRC of a file cut short = %x, %v; want ErrFileChanged", got.crc, got.err)
	}
}

// openCutShort opens a file of 3 MiB, then cuts it to 1 MiB.
func openCutShort(t *testing.T) *os.File {
	b := make([]byte, 3<<20)
	rand.Read(b)
	path := writeTemp(t, "f", b)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := os.Truncate(path, 1<<20); err != nil {
		t.Fatal(err)
	}
	return f
}
