package local

import "os"

// maxWrite is the most one write(2) hands the page cache. ext4 (Linux 6.x)
// caches a file in folios as large as the writes that fill them, and a
// large folio takes a large block of free memory. On the virtual machines
// this was measured on (Firecracker, whose guest hands free memory back to
// the hypervisor in large blocks: free page reporting), such a block is
// mostly memory the hypervisor must fault in again on first touch, and the
// copy into the page cache became the server's main cost. 1 GiB into a new
// file, four rounds each, alternated: in 1 MiB writes 1.5–1.7 s of kernel
// time, in 256 KiB writes 0.26–0.30 s; another hour, 0.76–0.87 s against
// 0.17–0.22 s (64 KiB writes: 0.26–0.32 s, for more calls). A streamed
// upload arrives in 1 MiB reads and so wrote 1 MiB folios, where the parts
// of an upload, written as their bytes came off the socket, in pieces of
// any size at any offset, mostly got small ones: that was the streamed
// upload's double kernel time (issue 19).
const maxWrite = 256 << 10

// writebackStep is how many bytes a writer lets accumulate before it starts
// their writeback (startWriteback).
const writebackStep = 8 << 20

// writeback writes a file front to back, at most maxWrite bytes at a time,
// and starts the writeback of what it wrote writebackStep bytes at a time.
type writeback struct {
	n, started int64 // bytes written; bytes whose writeback was started
}

// writeAt writes b to f at base plus the bytes written so far.
func (wb *writeback) writeAt(f *os.File, base int64, b []byte) (int, error) {
	var n int
	for n < len(b) {
		m, err := f.WriteAt(b[n:min(len(b), n+maxWrite)], base+wb.n)
		n += m
		wb.n += int64(m)
		if wb.n-wb.started >= writebackStep {
			startWriteback(f, base+wb.started, wb.n-wb.started)
			wb.started = wb.n
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
