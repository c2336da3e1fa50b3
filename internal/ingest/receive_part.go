package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// ReceivePart takes part p of upload of tenant's file id, issued for the
// content hash, through the HTTP layer: body, length bytes long (-1:
// unknown). The bytes stream into the store, which hashes them and keeps
// the part only if it is exactly p.Size bytes hashing to p.SHA256 (or, for
// a chained part, continuing the whole's hash from p.From to p.SHA256).
// It returns the part as stored.
func (c *Core) ReceivePart(ctx context.Context, tenant, id, hash, upload string, p blob.Part, body io.Reader, length int64) (blob.Part, error) {
	rec, err := c.recordOrOpen(ctx, tenant, id, upload, ErrGone)
	switch {
	case err != nil:
		return p, err
	case rec.SourceHash != hash:
		return p, ErrNotIssued
	case rec.Status == meta.StatusUploaded:
		return p, ErrAlreadyUploaded
	case length > p.Size:
		return p, failf(ErrTooLarge, "part %d is %d bytes; its URL is for exactly %d", p.Number, length, p.Size)
	}
	tok, err := c.tokenFor(rec, upload)
	if err != nil {
		return p, err
	}
	if p.From != "" && !c.parts.chainedFor(tok) { // issued for a store this server no longer has
		return p, ErrNotIssued
	}
	if c.locks.Held(completeLock(rec)) { // the store refuses it too, once sealed
		return p, ErrCompleting
	}
	bw, err := c.parts.createPart(ctx, rec, tok, p)
	if err != nil {
		return p, err
	}
	in := &readErr{r: limitTo(body, p.Size)}
	buf := copyBufs.Get().(*[]byte)
	n, err := copyFull(bw, in, *buf)
	copyBufs.Put(buf)
	switch {
	case errors.Is(in.err, errOverLimit):
		err = failf(ErrTooLarge, "part %d is more than the %d bytes its URL is for; nothing was kept", p.Number, p.Size)
	case in.err != nil || (err == nil && n != p.Size):
		err = failf(ErrIncomplete, "part %d: received %d of its %d bytes (%v); nothing was kept, send it again", p.Number, n, p.Size, in.err)
	case err != nil:
		err = fmt.Errorf("store part %d: %w", p.Number, err)
	}
	if err != nil {
		bw.Abort()
		return p, err
	}
	if err := bw.Commit(ctx); errors.Is(err, blob.ErrPartMismatch) {
		return p, failf(ErrPartMismatch, "part %d does not hash to the sha256 %s its URL was issued for; nothing was kept", p.Number, p.SHA256)
	} else if err != nil {
		return p, err
	}
	p.Size = n
	return p, nil
}

// readErr remembers the error of the reader it wraps, so that a copy can
// tell a cut-off body from a store that failed.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
