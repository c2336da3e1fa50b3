//go:build linux

package main

import (
	"errors"
	"os"

	"github.com/perseus-go/perseus/internal/aligned"
	"golang.org/x/sys/unix"
)

// copyDirect copies in to out (new and empty): whole aligned MiBs with
// O_DIRECT, read ahead on a second goroutine, then the tail (less than a
// page) through the page cache. Where the file system refuses O_DIRECT it
// returns errNoDirect, having written nothing. The caller fsyncs.
func copyDirect(out, in *os.File) error {
	const size, align = 1 << 20, 4096
	if err := setODirect(out, true); err != nil {
		return errNoDirect
	}
	var bufs [][]byte
	for range 2 {
		bufs = append(bufs, aligned.Bytes(size))
	}
	direct, first := true, true
	return readAhead(in, bufs, func(b []byte) error {
		if whole := len(b) &^ (align - 1); direct && whole > 0 {
			if m, err := out.Write(b[:whole]); err != nil {
				if first && m == 0 && errors.Is(err, unix.EINVAL) {
					setODirect(out, false)
					return errNoDirect
				}
				return err
			}
			b, first = b[whole:], false
		}
		if len(b) > 0 { // the tail, once: through the page cache
			if direct {
				if err := setODirect(out, false); err != nil {
					return err
				}
				direct = false
			}
			if _, err := out.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// setODirect turns O_DIRECT on or off for f.
func setODirect(f *os.File, on bool) error {
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		flags |= unix.O_DIRECT
	} else {
		flags &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(f.Fd(), unix.F_SETFL, flags)
	return err
}
