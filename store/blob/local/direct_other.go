//go:build !linux

package local

import (
	"errors"
	"os"
)

// errDirectRefused says that the file system takes no direct I/O.
var errDirectRefused = errors.New("local: direct I/O refused")

// setDirect refuses: direct I/O is used on Linux only.
func setDirect(*os.File, bool) error { return errDirectRefused }

// refused reports whether err is a refusal of direct I/O.
func refused(err error) bool { return errors.Is(err, errDirectRefused) }

// isDirect reports whether f is in direct mode: never here.
func isDirect(*os.File) bool { return false }
