//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"context"
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

// lockSharedWait is lockShared giving up when ctx ends: the exclusive
// holder may be a writer of a part whose client stalled.
func lockSharedWait(ctx context.Context, f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil || (!errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR)) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
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

// alone takes an exclusive lock on f, trading any shared one this
// descriptor holds, if no one else holds a lock on it, and reports whether
// it could. When it cannot, a shared lock this descriptor held may be gone
// (flock converts by unlocking first): call it on a fresh descriptor, or
// on one about to be closed.
func alone(f *os.File) bool {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err == nil
		}
	}
}
