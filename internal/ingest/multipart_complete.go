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
// and returns the record: uploaded; failed (with ErrHashMismatch); or still
// pending when another request is completing it and has not finished within
// 30 s. listed, when not empty, are the parts the client sent, which must
// be the ones stored. Completing runs to its end even if ctx is cancelled,
// so that a client that retries finds the verdict instead of starting over.
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
	if err == nil && f.Status == meta.StatusUploaded {
		c.parts.removeAll(done, f) // other unfinished uploads of the file, now useless
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
		return c.uploadGone(ctx, rec)
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
		return c.uploadGone(ctx, rec)
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
		if c.fileGone(ctx, rec) { // and its uploads with it
			return rec, ErrGone
		}
		if len(missing) > 20 {
			missing = append(missing[:20], "…")
		}
		return rec, failf(ErrPartsMissing, "%d of %d parts are not stored as listed (parts %s); upload them and complete again",
			len(missing), len(chosen), strings.Join(missing, ", "))
	}
	return c.parts.complete(ctx, rec, sess, chosen)
}

// uploadGone answers for an upload that is no longer there: completed
// already (its verdict, or the verification of the content it left), or
// aborted because another upload of the file completed (the file,
// uploaded), or never known.
func (c *Core) uploadGone(ctx context.Context, rec meta.File) (meta.File, error) {
	if f, err, ok := c.recoverContent(ctx, rec); ok {
		return f, err
	}
	if c.fileGone(ctx, rec) {
		return rec, ErrGone
	}
	return rec, ErrUploadNotFound
}

// fileGone reports whether rec was deleted meanwhile.
func (c *Core) fileGone(ctx context.Context, rec meta.File) bool {
	_, err := c.meta.Get(ctx, rec.Tenant, rec.ID)
	return errors.Is(err, meta.ErrNotFound)
}
