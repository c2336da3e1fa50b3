//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// lockShared takes a shared lock on f (flock), waiting for an exclusive
// holder. It is released when f is closed.
func lockShared(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// lockExclusive takes an exclusive lock on f, waiting at most wait for the
// shared holders to let go, then releases it: when it returns nil, no lock
// that was held when it was called is held any more.
func lockExclusive(f *os.File, wait time.Duration) error {
	for deadline := time.Now().Add(wait); ; time.Sleep(5 * time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		if time.Now().After(deadline) {
			return errBusy
		}
	}
}

// alone trades the shared lock held on f for an exclusive one, if no one
// else holds it, and reports whether it could.
func alone(f *os.File) bool {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err == nil
		}
	}
}
