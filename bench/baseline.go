package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// goSHA256 hashes the file at path with Go's crypto/sha256, reading the
// next MiB on a second goroutine while one is hashed, so that the baseline
// is the hash the machine can do rather than read-then-hash in turn.
func goSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	err = readAhead(f, [][]byte{make([]byte, 1<<20), make([]byte, 1<<20)}, func(b []byte) error {
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readAhead reads r to its end into bufs, in turn, on a second goroutine,
// and hands each filled buffer (the last one short) to fn, in order, while
// the next are read. It returns fn's first error or r's (io.EOF excepted),
// once the reading goroutine has ended: r is the caller's again.
func readAhead(r io.Reader, bufs [][]byte, fn func([]byte) error) error {
	type chunk struct {
		b   []byte
		err error
	}
	full, free := make(chan chunk, len(bufs)), make(chan []byte, len(bufs))
	for _, b := range bufs {
		free <- b
	}
	done := make(chan struct{})
	var reader sync.WaitGroup
	defer reader.Wait()
	defer close(done)
	reader.Go(func() {
		for {
			var b []byte
			select {
			case b = <-free:
			case <-done:
				return
			}
			n, err := io.ReadFull(r, b)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			full <- chunk{b[:n], err} // never blocks: full holds every buffer
			if err != nil {
				return
			}
		}
	})
	for c := range full {
		if len(c.b) > 0 {
			if err := fn(c.b); err != nil {
				return err
			}
		}
		if c.err == io.EOF {
			return nil
		}
		if c.err != nil {
			return c.err
		}
		free <- c.b[:cap(c.b)]
	}
	return nil
}

// durableCopy copies src into a new file in dir the way a careful store
// writes: through a user-space buffer (as bytes arriving from a socket
// must be), fsync, rename, fsync the directory. direct: the fastest way
// on this machine, whole aligned MiBs with O_DIRECT (read ahead on a
// second goroutine), the tail through the page cache; else every byte
// through the page cache in writes of copyBuf.
func durableCopy(src, dir string, direct bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, "copy-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	if direct {
		err = copyDirect(out, in)
	}
	if !direct || errors.Is(err, errNoDirect) { // nothing written yet
		if _, err = in.Seek(0, io.SeekStart); err == nil {
			// The wrappers hide ReadFrom/WriteTo, so that the kernel's
			// copy_file_range cannot short-cut the copy.
			_, err = io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, make([]byte, copyBuf))
		}
	}
	if err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Rename(out.Name(), filepath.Join(dir, filepath.Base(src))); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// errNoDirect says that the file system refused O_DIRECT before anything
// was written: durableCopy then copies through the page cache.
var errNoDirect = errors.New("the file system refuses O_DIRECT")

// copyBuf is the write size of the page-cache copy: the fastest on this
// machine. On its VM, writes of 1 MiB into a new file cost far more
// kernel time than writes of 256 KiB (large page-cache folios the
// hypervisor must fault in; BENCHMARKS.md, section 14): beside a hash,
// 1 GiB durably copied took 1.29–1.32 s in 1 MiB writes, 0.84–0.86 s in
// 256 KiB ones, 0.85–0.87 s in 128 KiB and 0.87–0.90 s in 64 KiB (three
// rounds alternated).
const copyBuf = 256 << 10

// hashBesideCopy times Go's SHA-256 of path on one goroutine beside a
// durable copy of it (direct or not: durableCopy) into a fresh directory
// under work on another: the wall time of the pair, as an upload that
// overlaps them could take.
func hashBesideCopy(path, work string, direct bool) (time.Duration, error) {
	return inScratch(work, func(dir string) (time.Duration, error) {
		return timed([]string{path}, func() error {
			var hashErr error
			var wg sync.WaitGroup
			wg.Go(func() { _, hashErr = goSHA256(path) })
			err := durableCopy(path, dir, direct)
			wg.Wait()
			return firstErr(err, hashErr)
		})
	})
}

// hashThenCopy times the same two steps one after the other, the copy
// direct; it returns the whole and the hash's share.
func hashThenCopy(path, work string) (total, hash time.Duration, err error) {
	total, err = inScratch(work, func(dir string) (time.Duration, error) {
		return timed([]string{path}, func() error {
			start := time.Now()
			if _, err := goSHA256(path); err != nil {
				return err
			}
			hash = time.Since(start)
			return durableCopy(path, dir, true)
		})
	})
	return total, hash, err
}

// hashAll hashes every file with Go's SHA-256 on one goroutine per CPU.
func hashAll(paths []string) error {
	return eachAtOnce(paths, runtime.NumCPU(), func(p string) error {
		_, err := goSHA256(p)
		return err
	})
}

// eachAtOnce calls fn for every path, n at once, and returns the first
// error (the others still run).
func eachAtOnce(paths []string, n int, fn func(path string) error) error {
	next := make(chan string)
	errs := make(chan error, len(paths))
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for p := range next {
				if err := fn(p); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}

// inScratch runs fn with a new directory under work, removed afterwards.
func inScratch(work string, fn func(dir string) (time.Duration, error)) (time.Duration, error) {
	dir, err := os.MkdirTemp(work, "baseline-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	return fn(dir)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
