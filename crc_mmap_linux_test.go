package perseus

import (
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
