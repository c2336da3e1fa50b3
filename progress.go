package perseus

import (
	"io"
	"sync"
	"sync/atomic"
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

// countingReader counts what the HTTP client reads of one request body.
// When the attempt fails, undo takes its bytes back from the count; reads
// the transport may still make afterwards no longer count.
type countingReader struct {
	r    io.Reader
	t    *tracker
	mu   sync.Mutex
	n    int64
	dead bool
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.mu.Lock()
	if !c.dead && n > 0 {
		c.n += int64(n)
		c.t.add(int64(n))
	}
	c.mu.Unlock()
	return n, err
}

// undo takes back what this attempt counted; it is a no-op on nil.
func (c *countingReader) undo() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dead {
		c.dead = true
		c.t.add(-c.n)
	}
}
