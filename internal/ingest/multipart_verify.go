package ingest

import (
	"context"
	"errors"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// verifyContent hashes the object at rec's content key, put there by
// completing a direct multipart upload (with ETag etag), and settles rec:
// uploaded if it hashes to the sourceHash; otherwise failed, and the object
// removed if it is still the one that was hashed. Reading the object back
// is the only way to know its SHA-256: S3 keeps none of a whole object.
func (c *Core) verifyContent(ctx context.Context, rec meta.File, etag string) (meta.File, error) {
	key := keys.Content(rec)
	sum, n, err := c.hashObject(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		// Removed meanwhile: with its record, or by another verifier that
		// found it wrong (which records the verdict first, see
		// verdict.recordFirst). Or not there yet: the store answered for a
		// complete still under way.
		f, err := c.current(ctx, rec)
		switch {
		case err != nil:
			return rec, err
		case !f.Status.Final():
			return f, failf(ErrUnavailable, "the store has not yet made the parts into the content; complete again later")
		}
		return f, nil
	}
	if err != nil {
		return rec, c.unavailable(ctx, "read", rec.ID, err, "could not read the content back to verify it: a storage backend is unavailable; complete again later")
	}
	return c.settleContent(ctx, rec, etag, sum, n)
}

// settleContent settles rec from the object at its content key (with ETag
// etag), whose bytes are known to be n hashing to sum: uploaded if that is
// the sourceHash; otherwise failed, and the object removed if it is still
// that one.
func (c *Core) settleContent(ctx context.Context, rec meta.File, etag, sum string, n int64) (meta.File, error) {
	key := keys.Content(rec)
	return c.settle(ctx, rec, verdict{sum: sum, size: n, want: -1, what: "bytes of the parts", recordFirst: true,
		discard: func(ctx context.Context) error { return c.deleteIf(ctx, key, etag) }})
}

// recoverContent settles rec from an object at its content key whose
// verification never ended (its verifier failed or died after completing
// the upload); found is false when there is no such object.
func (c *Core) recoverContent(ctx context.Context, rec meta.File) (f meta.File, err error, found bool) {
	info, err := c.blobs.Stat(ctx, keys.Content(rec))
	if errors.Is(err, blob.ErrNotFound) {
		return rec, nil, false
	}
	if err == nil {
		f, err = c.meta.Get(ctx, rec.Tenant, rec.ID)
	}
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return rec, ErrGone, true
	case err != nil:
		c.cfg.Logger.ErrorContext(ctx, "recover multipart upload", "id", rec.ID, "err", err)
		return rec, ErrUnavailable, true
	case f.Status == meta.StatusUploaded:
		return f, nil, true
	}
	f, err = c.verifyContent(ctx, f, info.ETag)
	return f, err, true
}

// clearLeftover deals with an object found at rec's content key while an
// upload of rec's own is still to be completed: what an earlier complete
// left when its verifier never finished. Right bytes settle the record
// (settled true); wrong ones are removed without failing the record, for
// they are not the bytes of the upload at hand.
func (c *Core) clearLeftover(ctx context.Context, rec meta.File) (meta.File, error, bool) {
	key := keys.Content(rec)
	info, err := c.blobs.Stat(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return rec, nil, false
	}
	if err == nil {
		rec, err = c.meta.Get(ctx, rec.Tenant, rec.ID)
	}
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return rec, ErrGone, true
	case err != nil:
		c.cfg.Logger.ErrorContext(ctx, "look at leftover content", "id", rec.ID, "err", err)
		return rec, ErrUnavailable, true
	case rec.Status == meta.StatusUploaded:
		return rec, nil, true
	}
	sum, n, err := c.hashObject(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return rec, nil, false
	}
	if err != nil {
		c.cfg.Logger.ErrorContext(ctx, "read back leftover content", "id", rec.ID, "err", err)
		return rec, ErrUnavailable, true
	}
	if sum == rec.SourceHash && n == info.Size {
		f, err := c.verifyContent(ctx, rec, info.ETag)
		return f, err, true
	}
	if err := c.deleteIf(ctx, key, info.ETag); err != nil {
		c.cfg.Logger.ErrorContext(ctx, "remove leftover content", "id", rec.ID, "err", err)
		return rec, ErrUnavailable, true
	}
	return rec, nil, false
}
