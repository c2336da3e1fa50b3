package perseus

import "sync/atomic"

// Progress reports how far one upload is.
type Progress struct {
	Path  string
	Sent  int64 // bytes sent so far; parts the server already had count as sent
	Total int64 // bytes in the file

	// UploadFiles only: the sums over every file it sends (content the
	// server already had is in neither), and, in the last report of each
	// file, Done with the file's outcome.
	BatchSent, BatchTotal int64
	Done                  bool
	Err                   error
}

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

// newTracker returns the tracker of the file at path, of total bytes,
// reporting to cfg's WithProgress callback and batch.
func newTracker(path string, total int64, cfg uploadConfig) *tracker {
	return &tracker{path: path, total: total, fn: cfg.progress, batch: cfg.batch}
}

// count returns the bytes counted as sent so far.
func (t *tracker) count() int64 {
	if t == nil {
		return 0
	}
	return t.sent.Load()
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
