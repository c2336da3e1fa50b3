package ingest

import (
	"context"
	"errors"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// FinishResumable ends r, whose bytes have all arrived: it records the
// file under the hash they have, with the id r has, and settles it, so
// that it is uploaded once its bytes are durable at its content key. When
// the tenant has an uploaded file of that content, that file is the
// answer (existing true) and the bytes are discarded; a pending file of
// it gets these bytes. Bytes that do not hash to the SHA-256 declared at
// creation are discarded and the file is failed.
//
// Each step leaves r's state saying what is done, so that a finish cut
// off anywhere (a store failing, the process dying) is taken up again by
// the next call, which the HTTP layer makes on the upload's next HEAD or
// PATCH: the bytes are first made the content of this upload's own key,
// with a state naming the file they are for; that file is settled; only
// then does the state say so (Done). Finishing a finished upload answers
// its file again.
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
	ctx = context.WithoutCancel(ctx) // settle what is begun, even if the client goes
	if r.FileID != "" {
		return c.resettle(ctx, a, r)
	}
	sum, err := r.sum()
	if err != nil {
		return r, meta.File{}, false, err
	}
	id := keys.Resumable(r.Tenant, r.ID)
	discard := func(ctx context.Context) error { return a.DeleteAppended(ctx, id) }

	if r.SHA256 != "" && r.SHA256 != sum {
		return c.refuseResumable(ctx, r, sum, discard)
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
	own := r.record()
	own.SourceHash = sum
	got, created, err := c.meta.Claim(ctx, own)
	if err != nil {
		return r, meta.File{}, false, err
	}
	if !created && got.ID != r.ID && got.Status == meta.StatusUploaded { // uploaded meanwhile
		r, err = c.endAs(ctx, r, got)
		return r, got, true, err
	}
	// The bytes become this upload's own content (a rename on the local
	// store), with a state that names the file they are for, not yet
	// settled; then that file is settled.
	committed := r
	committed.FileID = got.ID
	st, err := committed.state(now())
	if err == nil {
		err = a.CommitAppended(ctx, id, keys.Content(own), st)
	}
	if err != nil {
		return r, meta.File{}, false, c.unavailable(ctx, "commit_appended", r.ID, err, "could not store the bytes durably: a storage backend is unavailable; ask for the upload's offset (HEAD) later, which finishes it")
	}
	return c.resettle(ctx, a, committed)
}

// resettle settles the file r's bytes were committed for (r.FileID, not
// yet Done): this upload's own record, or a pending one of the same
// content, which gets a copy of them. Once settled, r's state says so and
// this upload's own copy of the bytes, if the file was another's, goes.
func (c *Core) resettle(ctx context.Context, a blob.Appender, r Resumable) (Resumable, meta.File, bool, error) {
	sum, err := r.sum()
	if err != nil {
		return r, meta.File{}, false, err
	}
	ownKey := keys.Content(r.record())
	got, err := c.meta.Get(ctx, r.Tenant, r.FileID)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		c.drop(ctx, r.record(), "discard the bytes of a file deleted before it was settled", func(ctx context.Context) error {
			return errors.Join(c.blobs.Delete(ctx, ownKey), a.DeleteAppended(ctx, keys.Resumable(r.Tenant, r.ID)))
		})
		return r, meta.File{}, false, failf(ErrGone, "file %s was deleted before the upload's bytes were recorded; nothing was kept: create a new upload", r.FileID)
	case err != nil:
		return r, meta.File{}, false, err
	}
	if got.ID != r.ID && got.Status == meta.StatusPending {
		if _, err := c.blobs.Stat(ctx, ownKey); errors.Is(err, blob.ErrNotFound) {
			// The copy waited too long: the sweeper took this upload's
			// bytes for an orphan (no record has its id).
			c.drop(ctx, r.record(), "end an upload whose bytes are gone", func(ctx context.Context) error {
				return a.DeleteAppended(ctx, keys.Resumable(r.Tenant, r.ID))
			})
			return r, meta.File{}, false, failf(ErrGone, "the upload's bytes were removed before they could be given to file %s: create a new upload and send them again", got.ID)
		}
	}
	f := got
	if got.Status == meta.StatusPending {
		v := verdict{sum: sum, size: r.Size, want: r.Size, what: "bytes of the upload",
			keepFailed: "could not store the bytes durably; ask for the upload's offset (HEAD) later, which finishes it"}
		if got.ID != r.ID {
			v.keep = func(ctx context.Context) error { return c.copyObject(ctx, ownKey, keys.Content(got)) }
		}
		if f, err = c.settle(ctx, got, v); err != nil {
			return r, f, false, err
		}
	}
	done := r
	done.settled = true
	st, err := done.state(now())
	if err == nil {
		err = a.CommitAppended(ctx, keys.Resumable(r.Tenant, r.ID), ownKey, st)
	}
	if err != nil {
		// The file is settled all the same; the upload will say so once
		// its state is written (the next HEAD or PATCH tries again).
		c.cfg.Logger.WarnContext(ctx, "record that a resumable upload is settled", "id", r.ID, "err", err)
		return r, f, f.ID != r.ID, nil
	}
	if got.ID != r.ID {
		if err := c.blobs.Delete(ctx, ownKey); err != nil {
			c.cfg.Logger.WarnContext(ctx, "remove a resumable upload's copy of content another file has; the sweeper will", "id", r.ID, "err", err)
		}
	}
	return done, f, f.ID != r.ID, nil
}

// refuseResumable ends r, whose bytes hash to sum and not to the SHA-256
// declared at creation: its own record says so, failed, and the bytes are
// discarded. A record of the declared hash that another upload made is
// not this one's to fail (nor to make pending again): then the upload
// ends with no record of its own, and answers why.
func (c *Core) refuseResumable(ctx context.Context, r Resumable, sum string, discard func(context.Context) error) (Resumable, meta.File, bool, error) {
	v := verdict{sum: sum, size: r.Size, want: r.Size, what: "bytes of the upload", discard: discard}
	have, err := c.meta.Find(ctx, r.Tenant, []string{r.ID}, []string{r.SHA256})
	if err != nil {
		return r, meta.File{}, false, err
	}
	for _, f := range have {
		if f.ID == r.ID { // made by a finish before, cut off
			f, err := c.settle(ctx, f, v)
			return r, f, false, err
		}
	}
	if len(have) == 0 {
		own := r.record()
		own.SourceHash = r.SHA256
		got, created, err := c.meta.Claim(ctx, own)
		if err != nil {
			return r, meta.File{}, false, err
		}
		if created {
			f, err := c.settle(ctx, got, v)
			return r, f, false, err
		}
	}
	c.drop(ctx, r.record(), "discard bytes that failed verification", discard)
	return r, meta.File{}, false, failf(ErrHashMismatch, "the %d bytes of the upload hash to %s, not to the declared sha256 %s; they were discarded", r.Size, sum, r.SHA256)
}

// record is the record r makes of its own file, before its hash is known:
// kind streamed, so that its content key is its id's.
func (r Resumable) record() meta.File {
	return meta.File{ID: r.ID, Tenant: r.Tenant, Name: r.Name, Kind: meta.KindStreamed, CreatedAt: now()}
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
	done.FileID, done.settled = f.ID, true
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
