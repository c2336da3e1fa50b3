//go:build !linux

package local

import "os"

// preallocate makes f size bytes long.
func preallocate(f *os.File, size int64) error { return f.Truncate(size) }
