package local

import (
	"cmp"
	"os"
	"sync"

	"github.com/perseus-go/perseus/internal/aligned"
)

// maxWrite is the most one buffered write(2) hands the page cache. ext4
// (Linux 6.x) caches a file in folios as large as the writes that fill
// them, and a large folio takes a large block of free memory. On the
// virtual machines this was measured on (Firecracker, whose guest hands
// free memory back to the hypervisor in large blocks: free page
// reporting), such a block is mostly memory the hypervisor must fault in
// again on first touch, and the copy into the page cache became the
// server's main cost. 1 GiB into a new file, four rounds each, alternated:
// in 1 MiB writes 1.5–1.7 s of kernel time, in 256 KiB writes 0.26–0.30 s;
// another hour, 0.76–0.87 s against 0.17–0.22 s (64 KiB writes: 0.26–0.32
// s, for more calls). A streamed upload arrives in 1 MiB reads and so
// wrote 1 MiB folios, where the parts of an upload, written as their bytes
// came off the socket, in pieces of any size at any offset, mostly got
// small ones: that was the streamed upload's double kernel time (issue
// 19). Most bytes now bypass the page cache (direct I/O, below); these
// writes are for what cannot.
const maxWrite = 256 << 10

// writebackStep is how many bytes a writer lets accumulate in the page
// cache before it starts their writeback (startWriteback).
const writebackStep = 8 << 20

// Direct I/O. A file written through the page cache costs the server a
// copy into it, the allocation of its pages (see maxWrite) and their
// writeback, and all of that is CPU the hash of the same bytes needs: 1
// GiB into a new file and fsync took 0.8–2.1 s of CPU here, against
// 0.03–0.13 s with O_DIRECT, whose writes go from the process's buffer to
// the disk (0.5 s of wall time either way, or less). So a writer sends
// whole aligned blocks with O_DIRECT where the file system takes it: from
// the caller's buffer when it is aligned where the file is, otherwise
// through an aligned stage of its own (a copy in memory, cheaper than the
// page cache's). What is not a whole block (the head of a write that
// begins between blocks, the tail of the last) goes through the page
// cache as before. Durability still comes from the fsync before every
// commit: a direct write is on the device, not yet past its cache.

// directAlign is the alignment direct I/O asks of the buffer's address,
// the file offset and the length: the page size, a multiple of any
// logical block size a disk has here.
const directAlign = aligned.Page

// stageSize is the size of a writer's stage, and of its direct writes;
// also the size below which a file is small (writeback.viaCache).
const stageSize = 1 << 20

// viaCacheFor is writeback.viaCache for a writer of size bytes (-1:
// unknown): all of a small file; of a file of unknown size, its first
// stage, so that a small one never takes a stage.
func viaCacheFor(size int64) int64 {
	switch {
	case size < 0:
		return stageSize
	case size < stageSize:
		return size
	}
	return 0
}

var stages = sync.Pool{New: func() any { return alignedBuf(stageSize) }}

// alignedBuf returns n bytes at a page-aligned address.
func alignedBuf(n int) *[]byte { b := aligned.Bytes(n); return &b }

// writeback writes a file front to back: whole blocks with direct I/O
// where it can, the rest through the page cache, at most maxWrite bytes
// at a time, starting the writeback of those writebackStep bytes at a
// time. A writer of a file smaller than a stage (viaCache) writes it all
// through the page cache, without a stage: small files share their
// fsyncs (syncGroup, CommitAll), where a direct write would wait for the
// disk on its own, and a stage for each would be a MiB of memory to take
// and touch per file (on this VM first touches of memory cost: see
// maxWrite). Bytes it took may wait in its stage: flush writes them, and must
// come before the file's fsync. Not safe for concurrent use.
type writeback struct {
	n, started int64   // bytes taken; bytes whose writeback was started
	stage      *[]byte // aligned; stage[:staged] are the bytes at base+n-staged
	staged     int
	viaCache   int64 // the first bytes, up to this many, go through the page cache (a small file: all of them)
	direct     int8  // 0: not tried; 1: f is in direct mode; -1: f is not (or cannot be)
	noDirect   bool  // the file system refused direct I/O: page cache only
	directN    int64 // bytes written with direct I/O (for tests)
	copied     int64 // bytes copied into the stage (for tests)
	err        error // the first error: every later write, and flush, return it
}

// writeAt writes b to f at base plus the bytes taken so far. After an
// error it takes nothing more.
func (wb *writeback) writeAt(f *os.File, base int64, b []byte) (int, error) {
	if wb.err != nil {
		return 0, wb.err
	}
	var n int
	for n < len(b) {
		pos := base + wb.n // where b[n] goes
		rest := b[n:]
		var m int
		var err error
		switch {
		case wb.staged > 0: // fill the stage; write it once full (through the page cache if direct I/O was refused meanwhile)
			m = copy((*wb.stage)[wb.staged:], rest)
			wb.staged += m
			wb.n += int64(m)
			wb.copied += int64(m)
			if wb.staged == len(*wb.stage) {
				err = wb.flushStage(f, base, false)
			}
		case wb.noDirect:
			m, err = wb.cached(f, base, rest)
		case wb.n < wb.viaCache:
			m, err = wb.cached(f, base, rest[:min(int64(len(rest)), wb.viaCache-wb.n)])
		case pos%directAlign != 0: // the head, up to the next block
			m, err = wb.cached(f, base, rest[:min(len(rest), int(directAlign-pos%directAlign))])
		case len(rest) >= stageSize && aligned.Is(rest): // straight from the caller's buffer
			m, err = wb.writeDirect(f, pos, rest[:len(rest)&^(directAlign-1)])
			wb.n += int64(m)
		default:
			if wb.stage == nil {
				wb.stage = stages.Get().(*[]byte)
			}
			m = copy(*wb.stage, rest)
			wb.staged = m
			wb.n += int64(m)
			wb.copied += int64(m)
			if wb.staged == len(*wb.stage) {
				err = wb.flushStage(f, base, false)
			}
		}
		n += m
		if err != nil {
			wb.err = err
			return n, err
		}
	}
	return n, nil
}

// cached writes b through the page cache, in pieces of at most maxWrite.
func (wb *writeback) cached(f *os.File, base int64, b []byte) (int, error) {
	if err := wb.setDirect(f, false); err != nil {
		return 0, err
	}
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

// writeDirect writes b, whole aligned blocks from an aligned address, at
// pos with direct I/O; where the file system refuses it, through the page
// cache from then on. It does not count the bytes in wb.n.
func (wb *writeback) writeDirect(f *os.File, pos int64, b []byte) (int, error) {
	if err := wb.setDirect(f, true); err == nil {
		m, err := f.WriteAt(b, pos)
		wb.directN += int64(m)
		if !refused(err) || m > 0 {
			return m, err
		}
		wb.noDirect = true
	}
	if err := wb.setDirect(f, false); err != nil {
		return 0, err
	}
	var n int
	for n < len(b) {
		m, err := f.WriteAt(b[n:min(len(b), n+maxWrite)], pos+int64(n))
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// flushStage writes the stage, whole, at its place (base+n-staged); its
// bytes are counted already. The last flush of a writer that wrote nothing
// directly yet goes through the page cache whole, as a small file would.
func (wb *writeback) flushStage(f *os.File, base int64, last bool) error {
	b := (*wb.stage)[:wb.staged]
	pos := base + wb.n - int64(wb.staged)
	whole := len(b) &^ (directAlign - 1)
	if last && wb.directN == 0 {
		whole = 0
	}
	if whole > 0 {
		m, err := wb.writeDirect(f, pos, b[:whole])
		if err != nil {
			return err
		}
		b, pos = b[m:], pos+int64(m)
	}
	if len(b) > 0 { // the tail of the last block: through the page cache
		if err := wb.setDirect(f, false); err != nil {
			return err
		}
		for len(b) > 0 {
			m, err := f.WriteAt(b[:min(len(b), maxWrite)], pos)
			if err != nil {
				return err
			}
			b, pos = b[m:], pos+int64(m)
		}
	}
	wb.staged = 0
	return nil
}

// flush writes what waits in the stage, gives the stage back and takes f
// out of direct mode (for whoever reads it next). Every commit calls it
// before its fsync.
func (wb *writeback) flush(f *os.File, base int64) error {
	err := wb.err
	if err == nil && wb.staged > 0 {
		err = wb.flushStage(f, base, true)
	}
	wb.release()
	return cmp.Or(err, wb.setDirect(f, false))
}

// release gives the stage back, dropping what waits in it (an abort).
func (wb *writeback) release() {
	if wb.stage != nil {
		stages.Put(wb.stage)
		wb.stage, wb.staged = nil, 0
	}
}

// setDirect puts f in direct mode or out of it, if it is not already.
// A file system that refuses direct I/O leaves the writer in the page
// cache for good, with no error.
func (wb *writeback) setDirect(f *os.File, on bool) error {
	want := int8(-1)
	if on {
		if wb.noDirect {
			return errDirectRefused
		}
		want = 1
	}
	if wb.direct == want || (wb.direct == 0 && !on) {
		return nil
	}
	err := setDirect(f, on)
	switch {
	case err == nil:
		wb.direct = want
	case on && refused(err):
		wb.noDirect, wb.direct = true, -1
		return errDirectRefused
	}
	return err
}
