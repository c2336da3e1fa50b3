package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// CompleteMultipart makes tenant's file id's upload its content, verified,
// and returns the record: uploaded; failed (with ErrHashMismatch, or as
// found when a complete before gave the verdict); or still pending when
// another request is completing it and has not finished within 30 s.
// listed, when not empty, are the parts the client sent, which must be the
// ones stored. Completing runs to its end even if ctx is cancelled, so that
// a client that retries finds the verdict instead of starting over; and it
// is safe to retry after a store failed at any step (ErrUnavailable): the
// retry verifies what the step before left, or goes on with the upload, and
// never answers ErrUploadNotFound for an upload that a complete began.
func (c *Core) CompleteMultipart(ctx context.Context, tenant, id, upload string, listed []PartRef) (meta.File, error) {
	rec, err := c.Get(ctx, tenant, id)
	if err != nil {
		return rec, err
	}
	done := context.WithoutCancel(ctx)
	if rec.Status == meta.StatusUploaded {
		c.parts.removeAll(done, rec)
		return rec, nil
	}
	tok, err := c.tokenFor(rec, upload)
	if err != nil {
		return rec, err
	}
	unlock, ok := c.locks.TryLock(completeLock(rec))
	if !ok { // this upload is being completed: wait for the verdict
		f, err := c.Await(ctx, rec.Tenant, rec.ID, 30*time.Second)
		if errors.Is(err, ErrNotFound) {
			err = ErrGone
		}
		return f, err
	}
	defer unlock()
	f, err := c.complete(done, rec, tok, listed)
	switch {
	case err == nil && f.Status == meta.StatusUploaded:
		c.parts.removeAll(done, f) // this upload's leftovers, and other unfinished uploads of the file, now useless
	case errors.Is(err, ErrHashMismatch) || err == nil && f.Status == meta.StatusFailed:
		if err := c.parts.forget(done, rec, tok); err != nil {
			c.cfg.Logger.WarnContext(done, "forget a failed multipart upload; the sweeper will", "id", rec.ID, "err", err)
		}
	}
	return f, err
}

// complete checks that every part of upload tok is stored (and, for the
// parts the client listed, with the SHA-256 it listed), then completes it.
func (c *Core) complete(ctx context.Context, rec meta.File, tok uploadToken, listed []PartRef) (meta.File, error) {
	sess, found, err := c.parts.session(ctx, rec, tok)
	if err != nil {
		c.cfg.Logger.ErrorContext(ctx, "find multipart upload", "id", rec.ID, "err", err)
		return rec, ErrUnavailable
	}
	if !found {
		return c.uploadGone(ctx, rec, tok)
	}
	want := map[int]PartRef{}
	if len(listed) > 0 {
		refs, err := c.checkRefs(listed, tok)
		if err != nil {
			return rec, err
		}
		for _, ref := range refs {
			want[ref.Number] = ref
		}
	}
	stored, err := c.parts.parts(ctx, rec, sess)
	if errors.Is(err, blob.ErrNotFound) {
		return c.uploadGone(ctx, rec, tok)
	}
	if err != nil {
		c.cfg.Logger.ErrorContext(ctx, "list parts", "id", rec.ID, "err", err)
		return rec, ErrUnavailable
	}
	chosen := make([]blob.Part, tok.count())
	for _, sp := range stored {
		n := sp.Number
		if ref, listed := want[n]; n < 1 || n > len(chosen) || sp.Size != tok.partLen(n) || (listed && (sp.SHA256 != ref.SHA256 || sp.From != ref.From)) {
			continue
		}
		chosen[n-1] = sp
	}
	var missing []string
	for i, p := range chosen {
		if p.Number == 0 {
			missing = append(missing, fmt.Sprint(i+1))
		}
	}
	if len(missing) > 0 {
		if f, err, ok := c.recoverContent(ctx, rec); ok { // completed already, its verdict lost
			return f, err
		}
		cur, err := c.current(ctx, rec)
		switch {
		case err != nil:
			return rec, err
		case len(stored) == 0 && cur.Status == meta.StatusFailed:
			return cur, nil // nothing of it left: a complete before gave the verdict
		}
		if len(missing) > 20 {
			missing = append(missing[:20], "…")
		}
		return rec, failf(ErrPartsMissing, "%d of %d parts are not stored as listed (parts %s); upload them and complete again",
			len(missing), len(chosen), strings.Join(missing, ", "))
	}
	return c.parts.complete(ctx, rec, sess, chosen)
}

// uploadGone answers for upload tok of rec, which the store no longer has:
// completed already (the verification of the content it left, or the
// file's verdict); being completed by the store still, its answer to the
// complete that began it lost (ErrUnavailable: complete again later);
// aborted because another upload of the file completed (the file,
// uploaded); deleted with its file (ErrGone); or aborted, or never known
// (ErrUploadNotFound).
func (c *Core) uploadGone(ctx context.Context, rec meta.File, tok uploadToken) (meta.File, error) {
	if f, err, ok := c.recoverContent(ctx, rec); ok {
		return f, err
	}
	cur, err := c.current(ctx, rec)
	switch {
	case err != nil:
		return rec, err
	case cur.Status.Final():
		return cur, nil
	}
	completing, err := c.parts.completing(ctx, cur, tok)
	switch {
	case err != nil:
		return cur, c.unavailable(ctx, "stat", cur.ID, err, "could not find the multipart upload: a storage backend is unavailable; complete again later")
	case completing:
		return cur, failf(ErrUnavailable, "the store is still completing this multipart upload; complete again later")
	}
	return cur, ErrUploadNotFound
}

// current returns rec as the metadata store has it now: ErrGone when it
// was deleted meanwhile, ErrUnavailable when the store cannot say.
func (c *Core) current(ctx context.Context, rec meta.File) (meta.File, error) {
	cur, err := c.meta.Get(ctx, rec.Tenant, rec.ID)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return rec, ErrGone
	case err != nil:
		c.cfg.Logger.ErrorContext(ctx, "get file", "id", rec.ID, "err", err)
		return rec, ErrUnavailable
	}
	return cur, nil
}
