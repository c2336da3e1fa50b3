package perseus

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestFileCRC_mapsPastTheEndOfAFileCutShort: the mapping fileCRC makes of
// a file cut short succeeds, so what TestFileCRC_aFileCutShortIsAChangedFile
// sees on Linux is the fault on reading it, caught, not a failed mapping
// falling back to reads.
func TestFileCRC_mapsPastTheEndOfAFileCutShort(t *testing.T) {
	f := openCutShort(t)
	m, err := syscall.Mmap(int(f.Fd()), 0, 3<<20, syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		t.Fatalf("mapping past the end: %v; fileCRC would fall back to reads", err)
	}
	syscall.Munmap(m)
}

// TestFileCRC_mapsLittleAtOnce: the pages mapped count in the process's
// resident memory while they are, so the CRC of a 48 MiB file may not
// raise the peak by much more than a window (64 MiB windows had put the
// CLI at 83 MiB during a 4 GiB upload).
func TestFileCRC_mapsLittleAtOnce(t *testing.T) {
	path := writeTemp(t, "f", make([]byte, 48<<20)) // in the page cache: nothing to read from disk
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak of resident memory: %v", err)
	}
	before := statusKiB(t, "VmHWM")
	if got := fileCRC(t.Context(), f, 48<<20); got.err != nil {
		t.Fatal(got.err)
	}
	if rise := statusKiB(t, "VmHWM") - before; rise > 16<<10 {
		t.Fatalf("the CRC of 48 MiB raised the peak of resident memory by %d KiB; want a window's worth", rise)
	}
}

// statusKiB is a field of /proc/self/status, in KiB.
func statusKiB(t *testing.T, field string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
