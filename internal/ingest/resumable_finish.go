package ingest

import (
	"context"
	"errors"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/meta"
)

// FinishResumable ends r, whose bytes have all arrived: it records the
// file under the hash they have, with the id r has, and settles it, so
// that it is uploaded once its bytes are durable at its content key. When
// the tenant has an uploaded file of that content, that file is the
// answer (existing true) and the bytes are discarded; a pending file of
// it gets these bytes. Bytes that do not hash to the SHA-256 declared at
// creation are discarded and the file is failed. The upload keeps, until
// it expires, which file it became (r.FileID). Finishing a finished
// upload answers its file again.
func (c *Core) FinishResumable(ctx context.Context, r Resumable) (Resumable, meta.File, bool, error) {
	a, err := c.appender()
	if err != nil {
		return r, meta.File{}, false, err
	}
	if r.Done() {
		f, err := c.meta.Get(ctx, r.Tenant, r.FileID)
		if errors.Is(err, meta.ErrNotFound) {
			err = failf(ErrGone, "the upload ended as file %s, which has been deleted since", r.FileID)
		}
		return r, f, f.ID != r.ID, err
	}
	if r.Offset != r.Size {
		return r, meta.File{}, false, failf(ErrIncomplete, "%d of the upload's %d bytes have arrived: send the rest from offset %d", r.Offset, r.Size, r.Offset)
	}
	sum, err := r.sum()
	if err != nil {
		return r, meta.File{}, false, err
	}
	ctx = context.WithoutCancel(ctx) // settle what is begun, even if the client goes
	id := keys.Resumable(r.Tenant, r.ID)
	own := meta.File{ID: r.ID, Tenant: r.Tenant, Name: r.Name, Kind: meta.KindStreamed, CreatedAt: now()}
	discard := func(ctx context.Context) error { return a.DeleteAppended(ctx, id) }
	v := verdict{sum: sum, size: r.Size, want: r.Size, what: "bytes of the upload", discard: discard}

	if r.SHA256 != "" && r.SHA256 != sum {
		// Not what the client said: its own record says so, failed. A
		// record of another upload with the declared hash is not this
		// one's to fail.
		own.SourceHash = r.SHA256
		got, created, err := c.meta.Claim(ctx, own)
		if err != nil {
			return r, meta.File{}, false, err
		}
		if created || got.ID == r.ID {
			f, err := c.settle(ctx, got, v)
			return r, f, false, err
		}
		c.drop(ctx, own, "discard bytes that failed verification", discard)
		return r, meta.File{}, false, failf(ErrHashMismatch, "the %d bytes of the upload hash to %s, not to the declared sha256 %s; they were discarded", r.Size, sum, r.SHA256)
	}
	if f, ok, err := c.uploadedWith(ctx, r.Tenant, sum); err != nil || ok {
		if ok {
			r, err = c.endAs(ctx, r, f)
		}
		return r, f, ok, err
	}
	if err := c.roomForRecord(ctx, r.Tenant, sum); err != nil {
		return r, meta.File{}, false, err
	}
	if err := c.roomFor(ctx, r.Tenant, false, r.Size); err != nil {
		return r, meta.File{}, false, err
	}
	own.SourceHash = sum
	got, created, err := c.meta.Claim(ctx, own)
	if err != nil {
		return r, meta.File{}, false, err
	}
	if !created && got.ID != r.ID && got.Status == meta.StatusUploaded { // uploaded meanwhile
		r, err = c.endAs(ctx, r, got)
		return r, got, true, err
	}
	done := r
	done.FileID = got.ID
	st, err := done.state(now())
	if err != nil {
		return r, meta.File{}, false, err
	}
	v.keep = func(ctx context.Context) error { return a.CommitAppended(ctx, id, keys.Content(got), st) }
	if !created && got.ID != r.ID {
		// A pending file of this content (another upload of it under
		// way, or one that failed) gets these bytes, copied from where
		// they were made durable: this upload's own content key, which
		// no record owns after (the sweeper's orphan if not removed here).
		v.keep = func(ctx context.Context) error {
			if err := a.CommitAppended(ctx, id, keys.Content(own), st); err != nil {
				return err
			}
			defer c.blobs.Delete(ctx, keys.Content(own))
			return c.copyObject(ctx, keys.Content(own), keys.Content(got))
		}
	}
	f, err := c.settle(ctx, got, v)
	if err != nil {
		return r, f, false, err
	}
	return done, f, got.ID != r.ID, nil
}

// endAs ends r as the uploaded file f, which had its content already: its
// bytes are discarded and it keeps only which file it became, until it
// expires. If that fails, r is unchanged and is swept with its bytes.
func (c *Core) endAs(ctx context.Context, r Resumable, f meta.File) (Resumable, error) {
	a, err := c.appender()
	if err != nil {
		return r, err
	}
	id := keys.Resumable(r.Tenant, r.ID)
	done := r
	done.FileID = f.ID
	st, err := done.state(now())
	if err != nil {
		return r, err
	}
	if err := a.DeleteAppended(ctx, id); err != nil {
		return r, c.unavailable(ctx, "delete_appended", r.ID, err, "could not discard the upload's bytes: a storage backend is unavailable; try again later")
	}
	w, err := a.Append(ctx, id, 0, 0)
	if err == nil {
		if err = w.Commit(ctx, st); err != nil {
			w.Abort()
		}
	}
	if err != nil {
		// The file is the answer all the same; the upload is gone.
		c.cfg.Logger.WarnContext(ctx, "keep which file a resumable upload became", "id", r.ID, "err", err)
	}
	return done, nil
}
