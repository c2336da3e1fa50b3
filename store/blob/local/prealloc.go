package local

import "os"

// preallocate makes f size bytes long without reserving its blocks: an
// assembly takes only the space of the parts written to it, so that
// starting an upload (or sending it an empty part) reserves no disk, and a
// full disk shows as the parts are written.
func preallocate(f *os.File, size int64) error { return f.Truncate(size) }
