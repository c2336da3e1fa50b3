//go:build linux

package local

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errDirectRefused says that the file system takes no direct I/O.
var errDirectRefused = errors.New("local: direct I/O refused")

// setDirect turns O_DIRECT on or off for f's later reads and writes.
func setDirect(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	cerr := rc.Control(func(fd uintptr) {
		var flags int
		if flags, err = unix.FcntlInt(fd, unix.F_GETFL, 0); err != nil {
			return
		}
		if on {
			flags |= unix.O_DIRECT
		} else {
			flags &^= unix.O_DIRECT
		}
		_, err = unix.FcntlInt(fd, unix.F_SETFL, flags)
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// refused reports whether err is a file system's refusal of direct I/O
// (or of its alignment), as opposed to a failure of the disk.
func refused(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, errDirectRefused)
}

// isDirect reports whether f is in direct mode (for tests).
func isDirect(f *os.File) bool {
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	return err == nil && flags&unix.O_DIRECT != 0
}
