//go:build !linux

package main

import "os"

// copyDirect refuses: direct I/O is used on Linux only.
func copyDirect(out, in *os.File) error { return errNoDirect }
