package server

import (
	"hash"
	"io"
)

// copyHashing copies src to dst and writes the same bytes to h, the hash
// on a goroutine of its own: on two cores, hashing one buffer overlaps
// receiving and storing the next, where io.MultiWriter would do the three
// one after the other. It returns the bytes copied and the first error of
// src (io.EOF excepted) or dst; h has then taken exactly those bytes.
func copyHashing(dst io.Writer, src io.Reader, h hash.Hash) (int64, error) {
	const nbufs = 4
	free, full := make(chan []byte, nbufs), make(chan []byte, nbufs)
	for range nbufs {
		free <- *copyBufs.Get().(*[]byte)
	}
	defer func() {
		for range nbufs {
			b := <-free
			copyBufs.Put(&b)
		}
	}()
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range full {
			h.Write(b)
			free <- b[:cap(b)]
		}
	}()
	var n int64
	var err error
	for err == nil {
		b := <-free
		var m int
		m, err = io.ReadFull(src, b)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = io.EOF
		}
		if m == 0 {
			free <- b
			continue
		}
		if _, werr := dst.Write(b[:m]); werr != nil {
			free <- b
			err = werr
			break
		}
		n += int64(m)
		full <- b[:m]
	}
	close(full)
	<-hashed
	if err == io.EOF {
		err = nil
	}
	return n, err
}
