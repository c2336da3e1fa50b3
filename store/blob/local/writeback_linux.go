//go:build linux

package local

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing [off, off+n) of f to the
// disk without waiting for it (sync_file_range, SYNC_FILE_RANGE_WRITE), so
// that the disk works while the rest of the bytes still arrive and the
// fsync that makes them durable finds them written or under way. It is a
// hint only: durability still comes from fsync alone, which also reports
// any error the writeback met.
func startWriteback(f *os.File, off, n int64) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE) })
	}
}
