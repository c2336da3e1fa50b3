package perseus

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// batch holds the totals of the files one UploadFiles sends.
type batch struct {
	sent, total atomic.Int64
}

// tracker counts the bytes of one file as they are sent, and reports them
// to the WithProgress callback, with its batch's totals when it has one.
type tracker struct {
	path  string
	total int64
	sent  atomic.Int64
	fn    func(Progress)
	batch *batch
}

func newTracker(path string, total int64, cfg uploadConfig) *tracker {
	return &tracker{path: path, total: total, fn: cfg.progress, batch: cfg.batch}
}

// add counts n more bytes sent (or, negative, bytes that no longer count).
func (t *tracker) add(n int64) {
	if t == nil || n == 0 {
		return
	}
	p := Progress{Path: t.path, Sent: t.sent.Add(n), Total: t.total}
	if t.batch != nil {
		p.BatchSent, p.BatchTotal = t.batch.sent.Add(n), t.batch.total.Load()
	}
	if t.fn != nil {
		t.fn(p)
	}
}

// finish reports the end of the file's upload, as UploadFiles does.
func (t *tracker) finish(err error) {
	if t == nil || t.fn == nil {
		return
	}
	p := Progress{Path: t.path, Sent: t.sent.Load(), Total: t.total, Done: true, Err: err}
	if t.batch != nil {
		p.BatchSent, p.BatchTotal = t.batch.sent.Load(), t.batch.total.Load()
	}
	t.fn(p)
}

// fileBody is a section of a file as one attempt's request body, counted
// for progress. It reads through a descriptor of its own, from that
// descriptor's offset up to the section's end, and exposes the descriptor
// (syscall.Conn) so that over plain TCP the HTTP transport hands it to
// sendfile(2): the bytes go from the page cache to the socket without a
// copy through this process. Since sendfile moves the offset and nothing
// else, the offset is what tells how much was sent: update counts its
// advance (a ticker calls it while the request runs, see watch). When the
// attempt fails, undo takes its bytes back from the count.
type fileBody struct {
	f          *os.File
	start, end int64
	t          *tracker
	mu         sync.Mutex
	counted    int64
	dead       bool
}

// openBody opens size bytes of f from off as a request body. It reopens
// f by name, for an offset of its own, and refuses a file that was
// replaced meanwhile.
func openBody(f *os.File, off, size int64, t *tracker) (*fileBody, error) {
	g, err := os.Open(f.Name())
	if err != nil {
		return nil, err
	}
	was, err1 := f.Stat()
	now, err2 := g.Stat()
	if err = cmp.Or(err1, err2); err == nil && !os.SameFile(was, now) {
		err = fmt.Errorf("perseus: %s was replaced while being uploaded", f.Name())
	}
	if err == nil {
		_, err = g.Seek(off, io.SeekStart)
	}
	if err != nil {
		g.Close()
		return nil, err
	}
	return &fileBody{f: g, start: off, end: off + size, t: t}, nil
}

func (b *fileBody) Read(p []byte) (int, error) {
	defer b.update()
	pos, err := b.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if pos >= b.end {
		return 0, io.EOF
	}
	n, err := b.f.Read(p[:min(int64(len(p)), b.end-pos)])
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // the file is shorter than it was
	}
	return n, err
}

// SyscallConn lets the transport's sendfile use the body's descriptor.
func (b *fileBody) SyscallConn() (syscall.RawConn, error) { return b.f.SyscallConn() }

// Close is the transport's, once the body is sent or given up.
func (b *fileBody) Close() error {
	b.update()
	return b.f.Close()
}

// update counts what went since the last look: the offset's advance.
func (b *fileBody) update() {
	pos, err := b.f.Seek(0, io.SeekCurrent)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dead || err != nil {
		return
	}
	if d := min(pos, b.end) - b.start - b.counted; d > 0 {
		b.counted += d
		b.t.add(d)
	}
}

// watch calls update every 200 ms until stop is called: progress while
// sendfile runs.
func (b *fileBody) watch() (stop func()) {
	if b.t == nil || b.t.fn == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				b.update()
			}
		}
	}()
	return func() { close(done) }
}

// undo takes back what this attempt counted; it is a no-op on nil.
func (b *fileBody) undo() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.dead {
		b.dead = true
		b.t.add(-b.counted)
	}
}
