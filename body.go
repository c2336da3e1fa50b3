package perseus

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// A section is size bytes of a file from off, as a request body: each
// attempt to send it opens a fileBody of its own, counted on tr.
type section struct {
	f         *os.File
	off, size int64
	tr        *tracker
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
	f          *os.File // nil when f could not be opened again: then sec
	sec        *io.SectionReader
	start, end int64
	t          *tracker
	mu         sync.Mutex
	counted    int64
	dead       bool
}

// openBody opens size bytes of f from off as a request body, through a
// descriptor of its own (an offset of its own) onto the same file: on
// Linux /proc/self/fd, which works even if the file was renamed or
// removed meanwhile, elsewhere the name, refusing another file found
// there. When neither works it reads f through a SectionReader, without
// sendfile.
func openBody(f *os.File, off, size int64, t *tracker) (*fileBody, error) {
	b := &fileBody{start: off, end: off + size, t: t}
	g, err := reopen(f)
	if err == nil {
		if _, err = g.Seek(off, io.SeekStart); err != nil {
			g.Close()
			return nil, err
		}
		b.f = g
		return b, nil
	}
	b.sec = io.NewSectionReader(f, off, size)
	return b, nil
}

// reopen opens the file of f again, as a new open file description.
func reopen(f *os.File) (*os.File, error) {
	was, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, name := range []string{fmt.Sprintf("/proc/self/fd/%d", f.Fd()), f.Name()} {
		g, err := os.Open(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if now, err := g.Stat(); err == nil && os.SameFile(was, now) {
			return g, nil
		}
		g.Close()
		errs = append(errs, fmt.Errorf("%s is not the file being uploaded", name))
	}
	return nil, errors.Join(errs...)
}

// Read reads the section from where the descriptor's offset is.
func (b *fileBody) Read(p []byte) (int, error) {
	if b.f == nil {
		n, err := b.sec.Read(p)
		pos, _ := b.sec.Seek(0, io.SeekCurrent)
		b.countTo(pos)
		return n, err
	}
	pos, err := b.f.Seek(0, io.SeekCurrent) // where sendfile, or the last Read, left it
	if err != nil {
		return 0, err
	}
	if pos >= b.end {
		return 0, io.EOF
	}
	n, err := b.f.Read(p[:min(int64(len(p)), b.end-pos)])
	b.countTo(pos + int64(n) - b.start)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // the file is shorter than it was
	}
	if err != nil {
		err = localError{err} // a retry would meet the same file
	}
	return n, err
}

// SyscallConn lets the transport's sendfile use the body's descriptor.
func (b *fileBody) SyscallConn() (syscall.RawConn, error) {
	if b.f == nil {
		return nil, errors.New("perseus: no descriptor of its own") // the transport copies instead
	}
	return b.f.SyscallConn()
}

// Close is the transport's, once the body is sent or given up.
func (b *fileBody) Close() error {
	if b.f == nil {
		return nil
	}
	b.update()
	return b.f.Close()
}

// update counts what went since the last look: the offset's advance.
func (b *fileBody) update() {
	if b.f == nil {
		return
	}
	if pos, err := b.f.Seek(0, io.SeekCurrent); err == nil {
		b.countTo(min(pos, b.end) - b.start)
	}
}

// countTo raises the count of this attempt's bytes sent to n, unless the
// attempt is over.
func (b *fileBody) countTo(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.dead && n > b.counted {
		b.t.add(n - b.counted)
		b.counted = n
	}
}

// sent counts the whole body as sent: the store took it. The transport
// may close the body (the last look at the offset) only after the answer.
// It is a no-op on nil.
func (b *fileBody) sent() {
	if b != nil {
		b.countTo(b.end - b.start)
	}
}

// watch calls update every 200 ms until stop is called: progress while
// sendfile runs. On nil it watches nothing.
func (b *fileBody) watch() (stop func()) {
	if b == nil || b.t == nil || b.t.fn == nil {
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
