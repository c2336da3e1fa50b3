package ingest

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// ContentURL returns a URL of the blob store that answers plain GETs (Range
// included) of f's content until ttl has passed, and true; or false when
// the store does not presign reads and the content is served through the
// HTTP layer (OpenContent).
func (c *Core) ContentURL(ctx context.Context, f meta.File, ttl time.Duration) (string, bool, error) {
	if c.reads == nil {
		return "", false, nil
	}
	u, err := c.presignGet(ctx, f, ttl, "")
	return u, true, err
}

// presignGet is the store's presigned GET of f's content, as an attachment
// named attachment unless that is empty.
func (c *Core) presignGet(ctx context.Context, f meta.File, ttl time.Duration, attachment string) (string, error) {
	u, err := c.reads.PresignGet(ctx, keys.Content(f), ttl, attachment)
	if err != nil {
		c.cfg.BlobFailed("presign_get")
	}
	return u, err
}

// OpenContent returns f's content, which must be uploaded, as an
// io.ReadSeeker of its size: a seek only moves the position, and the next
// read opens the object there. blob.ErrNotFound means that the content of
// an uploaded file is missing from the store.
func (c *Core) OpenContent(ctx context.Context, f meta.File) (*Content, error) {
	key := keys.Content(f)
	info, err := c.blobs.Stat(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		c.cfg.Logger.ErrorContext(ctx, "uploaded file without content", "id", f.ID, "key", key)
		return nil, err
	}
	if err != nil {
		c.cfg.BlobFailed("stat")
		return nil, err
	}
	return &Content{ctx: ctx, core: c, key: key, size: info.Size}, nil
}

// Content reads one file's content (OpenContent).
type Content struct {
	ctx       context.Context
	core      *Core
	key       string
	size, off int64
	r         io.ReadCloser
	err       error // the first error of the store, if any
}

// Seek moves the position of the next Read.
func (b *Content) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	case io.SeekStart:
	default:
		return 0, errors.New("ingest: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("ingest: negative position")
	}
	if offset != b.off {
		b.Close()
		b.off = offset
	}
	return offset, nil
}

// Read reads the content from the position.
func (b *Content) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	if b.r == nil {
		r, err := b.core.blobs.Open(b.ctx, b.key, b.off)
		if err != nil {
			b.fail(err)
			return 0, err
		}
		b.r = r
	}
	n, err := b.r.Read(p)
	b.off += int64(n)
	if err != nil && err != io.EOF {
		b.fail(err)
	}
	return n, err
}

// fail remembers the store's first error, and counts it.
func (b *Content) fail(err error) {
	if b.err == nil {
		b.err = err
		if b.ctx.Err() == nil {
			b.core.cfg.BlobFailed("open")
		}
	}
}

// Err returns the store's first error while reading, if any.
func (b *Content) Err() error { return b.err }

// Close releases the open reader, if any.
func (b *Content) Close() error {
	if b.r == nil {
		return nil
	}
	err := b.r.Close()
	b.r = nil
	return err
}
