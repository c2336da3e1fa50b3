package sdktest

import (
	"fmt"
	"os"
	"testing"
)

// TestMain keeps what uploads in one pass remember (perseus.WithResumeDir's
// default, in the user's cache directory) in a directory of the tests' own.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "perseus-sdktest-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
