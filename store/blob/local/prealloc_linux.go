package local

import (
	"errors"
	"os"
	"syscall"
)

// preallocate makes f size bytes long with its blocks reserved, so that a
// full disk shows when an assembly starts rather than halfway through it.
func preallocate(f *os.File, size int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return f.Truncate(size)
	}
	return err
}
