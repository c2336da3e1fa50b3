package perseus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
)

// WithSize declares how many bytes UploadReader will read: with it,
// UploadReader streams the content to a server that offers streams,
// without a temporary copy. A reader that yields another number of bytes is
// an error. Negative means unknown, the default.
func WithSize(n int64) UploadOption { return func(c *uploadConfig) { c.size = n } }

// UploadReader uploads what r yields, up to EOF, as a file named name: for
// content that is not a regular file, such as a pipe, standard input, or
// bytes made or downloaded on the fly. r is read once.
//
// When its size is known (WithSize) and the server offers streams
// (Limits.StreamMaxSize, at least that size), the content is sent as it is
// read, in one request whose bytes the server hashes (POST
// /api/v0/file/stream): nothing is written to disk. If the server declines
// before any byte was read (it offers no streams, or it answers 409
// hash_first because the caller has an uploaded file of that size, so the
// content may be there already), UploadReader goes the other way, below.
// Once bytes were read, a failed stream is final: r cannot be read again.
//
// Otherwise r is copied to a temporary file (os.CreateTemp in
// os.TempDir(): set TMPDIR to choose where) through a small buffer, so
// memory stays bounded whatever the size; the copy is then uploaded as
// UploadFile uploads a file: hashed first, so that content the server has
// is not sent, and in parts when large. Content larger than the server's
// MaxFileSize is refused as soon as that much was read. The temporary file
// is removed before UploadReader returns, whatever happened.
//
// WithProgress reports name as the Path. Canceling ctx stops a copy
// between two reads of r; a Read that blocks is r's own affair.
func (s *FileService) UploadReader(ctx context.Context, name string, r io.Reader, opts ...UploadOption) (*File, error) {
	if name == "" {
		return nil, errors.New("perseus: UploadReader: the file needs a name")
	}
	cfg := newUploadConfig(append(slices.Clone(opts), WithName(name)))
	if fn := cfg.progress; fn != nil {
		cfg.progress = func(p Progress) { p.Path = name; fn(p) }
	}
	if cfg.size >= 0 {
		if f, ok, err := s.streamReader(ctx, r, cfg); ok {
			return f, err
		}
	}
	return s.spool(ctx, r, cfg)
}

// streamReader sends cfg.size bytes of r to POST /api/v0/file/stream. ok
// is false when the server declined before anything was read from r: the
// caller may then spool r.
func (s *FileService) streamReader(ctx context.Context, r io.Reader, cfg uploadConfig) (f *File, ok bool, err error) {
	if l, err := s.Limits(ctx); err != nil || l.StreamMaxSize <= 0 || cfg.size > l.StreamMaxSize {
		return nil, false, nil // an error shows again, on the other way
	}
	body := &readerBody{r: r, size: cfg.size, tr: newTracker(cfg.name, cfg.size, cfg)}
	a, ok, err := s.postStream(ctx, cfg.name, body, cfg)
	read, short := body.finish() // the transport may still hold the body: from here on it reads nothing of r
	switch {
	case !ok && read == 0:
		return nil, false, nil
	case short:
		return nil, true, fmt.Errorf("perseus: UploadReader %s: the reader ended after %d bytes, and WithSize said %d; nothing was kept", cfg.name, read, cfg.size)
	case !ok:
		return nil, true, fmt.Errorf("perseus: UploadReader %s: the stream failed after %d bytes were read, and a reader cannot be read again: upload it again (without WithSize it is copied to a temporary file first, and that upload retries): %w",
			cfg.name, read, errors.Join(err, errStreamDeclined))
	case err != nil:
		return nil, true, err
	}
	var one [1]byte
	if n, _ := io.ReadFull(r, one[:]); n > 0 || a.File.Size != cfg.size {
		err := fmt.Errorf("perseus: UploadReader %s: the reader holds more than the %d bytes WithSize said", cfg.name, cfg.size)
		if a.Existing {
			return nil, true, err // that file is someone's upload of those bytes: keep it
		}
		derr := s.DeleteFile(context.WithoutCancel(ctx), a.File.ID)
		return nil, true, errors.Join(fmt.Errorf("%w; the file recorded from its first bytes (%s) was deleted", err, a.File.ID), derr)
	}
	return a.File, true, nil
}

// errStreamDeclined stands for a stream the server did not take, in an
// error of UploadReader.
var errStreamDeclined = errors.New("the server did not take the stream")

// spool copies r to a temporary file, removed on return, and uploads that.
func (s *FileService) spool(ctx context.Context, r io.Reader, cfg uploadConfig) (*File, error) {
	limit := int64(-1)
	if l, err := s.Limits(ctx); err == nil && l.MaxFileSize > 0 {
		limit = l.MaxFileSize
	}
	tmp, err := os.CreateTemp("", "perseus-upload-*")
	if err != nil {
		return nil, fmt.Errorf("perseus: UploadReader %s: %w", cfg.name, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close() // before the remove, for systems that cannot remove an open file
	src := io.Reader(ctxReader{ctx, r})
	if limit >= 0 {
		src = io.LimitReader(src, limit+1)
	}
	n, err := io.CopyBuffer(onlyWriter{tmp}, src, make([]byte, spoolBuffer))
	switch {
	case err != nil:
		return nil, fmt.Errorf("perseus: UploadReader %s: after %d bytes: %w", cfg.name, n, err)
	case limit >= 0 && n > limit:
		return nil, fmt.Errorf("perseus: UploadReader %s: more than %d bytes, the most the server accepts", cfg.name, limit)
	case cfg.size >= 0 && n != cfg.size:
		return nil, fmt.Errorf("perseus: UploadReader %s: the reader yielded %d bytes, and WithSize said %d; nothing was recorded", cfg.name, n, cfg.size)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("perseus: UploadReader %s: %w", cfg.name, err)
	}
	return s.uploadPath(ctx, tmp.Name(), cfg)
}

// spoolBuffer is the memory a spool copies through.
const spoolBuffer = 256 << 10

// onlyWriter hides a file's ReadFrom, so that a copy goes through the
// spool's own bounded buffer.
type onlyWriter struct{ io.Writer }

// ctxReader is r, ending with ctx's error once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// readerBody is the body of a stream from a reader: at most size bytes of
// r, read once, counted for progress and for knowing whether any was read.
type readerBody struct {
	r    io.Reader
	size int64
	tr   *tracker

	mu    sync.Mutex
	read  int64 // bytes read from r so far
	short bool  // r ended before size bytes
	done  bool  // finished: r is no longer read
}

// errBodyFinished is what a readerBody's Read answers once finished.
var errBodyFinished = errors.New("perseus: the request body was given up")

func (b *readerBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, errBodyFinished
	}
	if b.read >= b.size {
		return 0, io.EOF
	}
	n, err := b.r.Read(p[:min(int64(len(p)), b.size-b.read)])
	b.read += int64(n)
	b.tr.add(int64(n))
	if err == io.EOF && b.read < b.size {
		b.short = true
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// finish stops the body's reads of r (a Read under way ends first) and
// returns how many bytes were read and whether r ended before size.
func (b *readerBody) finish() (read int64, short bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	return b.read, b.short
}
