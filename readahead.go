package perseus

import (
	"context"
	"io"
)

// readAhead reads r to its end and hands each buffer of it to fn, in
// order, on this goroutine, while another goroutine reads the next: the
// reads (copies out of the page cache) overlap what fn does (hashing)
// instead of coming between. It returns the bytes read and the first error
// other than io.EOF, or ctx's error once ctx ends.
func readAhead(ctx context.Context, r io.Reader, fn func([]byte)) (int64, error) {
	const nbufs, bufSize = 3, 512 << 10
	type chunk struct {
		b   []byte
		err error
	}
	free, full := make(chan []byte, nbufs), make(chan chunk, nbufs)
	for range nbufs {
		free <- make([]byte, bufSize)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(full)
		for {
			var b []byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			n, err := io.ReadFull(r, b)
			full <- chunk{b[:n], err} // never blocks: full holds every buffer
			if err != nil {
				return
			}
		}
	}()
	var total int64
	for c := range full {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		fn(c.b)
		total += int64(len(c.b))
		free <- c.b[:cap(c.b)]
		switch {
		case c.err == io.EOF || c.err == io.ErrUnexpectedEOF:
			return total, nil
		case c.err != nil:
			return total, c.err
		}
	}
	return total, nil
}
