//go:build linux

package main

import (
	"errors"
	"io"
	"os"
	"sync"
	"unsafe"

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
	direct, first := true, true
	type chunk struct {
		b   []byte
		err error
	}
	full, free := make(chan chunk, 2), make(chan []byte, 2)
	for range 2 {
		b := make([]byte, size+align)
		skip := (align - int(uintptr(unsafe.Pointer(&b[0]))%align)) % align
		free <- b[skip : skip+size]
	}
	done := make(chan struct{})
	var reader sync.WaitGroup
	defer reader.Wait() // in's offset is the caller's again (after errNoDirect it reads in from the start)
	defer close(done)
	reader.Add(1)
	go func() {
		defer reader.Done()
		for {
			var b []byte
			select {
			case b = <-free:
			case <-done:
				return
			}
			n, err := io.ReadFull(in, b)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			full <- chunk{b[:n], err}
			if err != nil {
				return
			}
		}
	}()
	for c := range full {
		b := c.b
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
		if len(b) > 0 {
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
		if c.err == io.EOF {
			return nil
		}
		if c.err != nil {
			return c.err
		}
		free <- c.b[:cap(c.b)]
	}
	return nil
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
