package perseus

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/perseus-go/perseus/internal/sha256chain"
)

// HashFile returns the hex SHA-256 of the file at path and its size, reading it once.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := readAhead(context.Background(), f, func(b []byte) { h.Write(b) })
	if err != nil {
		return "", 0, fmt.Errorf("perseus: hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// digest is what hashing a file yields: its SHA-256 and size and, for a
// file to send in parts, what names each part to the server: its own
// SHA-256 or, when chained, the whole's chaining value after it (the
// whole's SHA-256 for the last part) with the value before it in from.
type digest struct {
	hash     string
	size     int64
	partSize int64    // 0: the file goes in one PUT
	parts    []string // per part: hex SHA-256, or the chaining value after it
	from     []string // per part, when chained: the chaining value before it
}

// partLen is the length of part n.
func (d digest) partLen(n int) int64 { return min(d.partSize, d.size-int64(n-1)*d.partSize) }

// readBufSize is the size of the buffers hashing reads into.
const readBufSize = 512 << 10

// readBufs keeps hashing's buffers for the next file: a batch of small
// files would otherwise allocate, clear and collect a few of them each
// (a tenth of the CLI's CPU on 1,000 small files, measured).
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// getReadBufs takes n buffers from readBufs; putReadBufs gives them back
// once nothing reads into them any more.
func getReadBufs(n int) []*[]byte {
	bufs := make([]*[]byte, n)
	for i := range bufs {
		bufs[i] = readBufs.Get().(*[]byte)
	}
	return bufs
}

func putReadBufs(bufs []*[]byte) {
	for _, b := range bufs {
		readBufs.Put(b)
	}
}

// hashParts reads the file once, hashing it whole and, when partSize > 0,
// part by part: the two hashes run on two goroutines over a few small
// buffers, so memory stays small whatever the file's size.
func hashParts(ctx context.Context, path string, partSize int64) (digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return digest{}, err
	}
	defer f.Close()
	const nbufs = 3
	bufs := getReadBufs(nbufs)
	defer putReadBufs(bufs) // every buffer is back in free once done is closed, below
	free, full := make(chan []byte, nbufs), make(chan []byte, nbufs)
	for _, b := range bufs {
		free <- *b
	}
	d := digest{partSize: partSize}
	done := make(chan struct{})
	go func() { // the part hashes
		defer close(done)
		ph, in := sha256.New(), int64(0)
		for buf := range full {
			b := buf
			for len(b) > 0 && partSize > 0 {
				c := min(int64(len(b)), partSize-in)
				ph.Write(b[:c])
				b, in = b[c:], in+c
				if in == partSize {
					d.parts, in = append(d.parts, hex.EncodeToString(ph.Sum(nil))), 0
					ph.Reset()
				}
			}
			free <- buf[:0]
		}
		if in > 0 {
			d.parts = append(d.parts, hex.EncodeToString(ph.Sum(nil)))
		}
	}()
	h := sha256.New()
	for err == nil {
		if err = ctx.Err(); err != nil {
			break
		}
		b := (<-free)[:readBufSize]
		var n int
		n, err = io.ReadFull(f, b)
		h.Write(b[:n])
		d.size += int64(n)
		full <- b[:n]
	}
	close(full)
	<-done
	if err == ctx.Err() {
		return digest{}, err
	}
	if err != io.EOF && err != io.ErrUnexpectedEOF {
		return digest{}, fmt.Errorf("perseus: hash %s: %w", path, err)
	}
	d.hash = hex.EncodeToString(h.Sum(nil))
	if partSize > 0 && int64(len(d.parts)) != (d.size+partSize-1)/partSize {
		return digest{}, fmt.Errorf("perseus: hash %s: it changed size while being read", path)
	}
	return d, nil
}

// hashChained reads the file once, hashing it whole and keeping the hash's
// chaining value at every part boundary: the parts are chained, so the
// server checks each as a piece of the whole and needs no pass of its own
// over the file, nor this client a second hash per part.
func hashChained(ctx context.Context, path string, partSize int64) (digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return digest{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return digest{}, err
	}
	d := digest{partSize: partSize}
	h := sha256.New()
	var in int64 // bytes of the current part hashed
	var verr error
	_, err = readAhead(ctx, f, func(b []byte) {
		for len(b) > 0 && verr == nil {
			if in == 0 { // a part begins
				var v string
				v, verr = sha256chain.Value(h)
				d.from = append(d.from, v)
			}
			c := min(int64(len(b)), partSize-in)
			h.Write(b[:c])
			b, in, d.size = b[c:], in+c, d.size+c
			if in == partSize { // it ends
				var v string
				v, verr = sha256chain.Value(h)
				d.parts, in = append(d.parts, v), 0
			}
		}
	})
	if err = cmp.Or(err, verr); err != nil {
		if err == ctx.Err() {
			return digest{}, err
		}
		return digest{}, fmt.Errorf("perseus: hash %s: %w", path, err)
	}
	if in > 0 {
		d.parts = append(d.parts, "") // the last part's: the whole's hash, below
	}
	d.hash = hex.EncodeToString(h.Sum(nil))
	if d.size != fi.Size() || d.size == 0 {
		return digest{}, fmt.Errorf("perseus: hash %s: %d bytes read, %d when opened: it changed while being read", path, d.size, fi.Size())
	}
	d.parts[len(d.parts)-1] = d.hash
	return d, nil
}

// readAhead reads r to its end and hands each buffer of it to fn, in
// order, on this goroutine, while another goroutine reads the next: the
// reads (copies out of the page cache) overlap what fn does (hashing)
// instead of coming between. It returns the bytes read and the first error
// other than io.EOF, or ctx's error once ctx ends.
func readAhead(ctx context.Context, r io.Reader, fn func([]byte)) (int64, error) {
	const nbufs = 3
	type chunk struct {
		b   []byte
		err error
	}
	bufs := getReadBufs(nbufs)
	free, full := make(chan []byte, nbufs), make(chan chunk, nbufs)
	for _, b := range bufs {
		free <- *b
	}
	stop := make(chan struct{})
	var canceled bool
	defer func() {
		close(stop)
		// The buffers go back once full is closed: the reader has stopped,
		// no read is left in one. After a cancel the reader may be in a read
		// that hangs (a stuck network mount): that wait is not the caller's.
		giveBack := func() {
			for range full {
			}
			putReadBufs(bufs)
		}
		if canceled {
			go giveBack()
		} else {
			giveBack()
		}
	}()
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
	for {
		var c chunk
		select {
		case c = <-full: // never closed before the reader has sent its last chunk, with its error
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			canceled = true
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
}
