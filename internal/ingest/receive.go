package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// Receive takes the content of tenant's file id as one body, length bytes
// long (-1: unknown), sent through the HTTP layer to an upload URL issued
// for the content hash: the v0 contract's PUT, on a store without direct
// uploads. The bytes stream into the store while being hashed; only
// verified, durably committed bytes make the file uploaded. A body that
// does not fit the tenant's byte quota is refused before it is read.
func (c *Core) Receive(ctx context.Context, tenant, id, hash string, body io.Reader, length int64) (meta.File, error) {
	rec, err := c.meta.Get(ctx, tenant, id)
	if err == nil && rec.SourceHash != hash {
		return rec, ErrNotIssued
	}
	if err := c.receivable(rec, err, length); err != nil {
		return rec, err
	}
	if length < 0 && c.cfg.QuotaBytes > 0 {
		return rec, failf(ErrLengthRequired, "send the body with a Content-Length: this server holds each tenant to a byte quota, checked before the bytes are sent")
	}
	if err := c.roomFor(ctx, tenant, false, length); err != nil {
		return rec, err
	}
	bw, sum, n, err := c.copyIn(ctx, keys.Content(rec), rec.ID, body, length)
	if err != nil {
		return rec, err
	}
	return c.settle(context.WithoutCancel(ctx), rec, verdict{sum: sum, size: n, want: -1, what: "uploaded bytes",
		keep: bw.Commit, discard: func(context.Context) error { return bw.Abort() }})
}

// receivable says why rec, as the store's Get returned it with err, cannot
// take length bytes of content through the server (-1: not known yet), or
// nil when it can.
func (c *Core) receivable(rec meta.File, err error, length int64) error {
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return ErrGone
	case err != nil:
		return err
	case rec.Status == meta.StatusUploaded:
		return ErrAlreadyUploaded
	case rec.Status == meta.StatusFailed:
		return failf(ErrFailed, "this file is marked failed (%s); create it again (same name and sourceHash) for a fresh upload URL", rec.Reason)
	case length > c.cfg.MaxFileSize:
		return failf(ErrTooLarge, "the body is %d bytes; this server accepts at most %d", length, c.cfg.MaxFileSize)
	}
	return nil
}

// copyIn streams body into a new object under key, hashing it on the way,
// and returns the writer uncommitted with the hex SHA-256 and the length of
// what it received: the caller commits or aborts. A body of known length
// goes in one streamed request where the store has one (blob.SizedCreator).
// id is for logs.
func (c *Core) copyIn(ctx context.Context, key, id string, body io.Reader, length int64) (blob.Writer, string, int64, error) {
	var bw blob.Writer
	var err error
	if sc, ok := c.blobs.(blob.SizedCreator); ok && length >= 0 && length <= sc.MaxSized() {
		bw, err = sc.CreateSized(ctx, key, length)
	} else {
		bw, err = c.blobs.Create(ctx, key)
	}
	if err != nil {
		return nil, "", 0, c.unavailable(ctx, "create", id, err, "")
	}
	h := sha256.New()
	n, err := copyHashing(bw, limitTo(body, c.cfg.MaxFileSize), h)
	if err != nil {
		bw.Abort()
		switch {
		case errors.Is(err, errOverLimit):
			return nil, "", n, failf(ErrTooLarge, "the body is larger than the %d bytes this server accepts; nothing was kept", c.cfg.MaxFileSize)
		case storeFailed(err):
			return nil, "", n, c.unavailable(ctx, "write", id, err, "could not store the bytes; nothing was kept, send them again")
		}
		return nil, "", n, failf(ErrIncomplete, "the upload was cut off after %d bytes (%v); nothing was kept, send it again", n, err)
	}
	if length >= 0 && n != length {
		bw.Abort()
		return nil, "", n, failf(ErrIncomplete, "received %d bytes but Content-Length said %d; nothing was kept", n, length)
	}
	return bw, hex.EncodeToString(h.Sum(nil)), n, nil
}

// errOverLimit is a limited reader's error for a byte beyond its limit.
var errOverLimit = errors.New("ingest: the body is over its limit")

// limitTo returns a reader of r's bytes that fails with errOverLimit
// instead of yielding more than max of them.
func limitTo(r io.Reader, max int64) io.Reader { return &limited{r: r, left: max} }

type limited struct {
	r    io.Reader
	left int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var probe [1]byte
		n, err := l.r.Read(probe[:])
		if n > 0 {
			return 0, errOverLimit
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
