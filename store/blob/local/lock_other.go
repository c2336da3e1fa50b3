//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package local

import (
	"context"
	"os"
	"time"
)

// lockShared does nothing here: only one process may use the directory.
func lockShared(*os.File) error { return nil }

// lockSharedWait does nothing here, as lockShared.
func lockSharedWait(context.Context, *os.File) error { return nil }

// lockExclusive does nothing here: only one process may use the directory,
// and HashAssembly relies on the seal alone.
func lockExclusive(*os.File, time.Duration) error { return nil }

// alone reports true: only one process may use the directory, and it
// knows its own writers.
func alone(*os.File) bool { return true }
