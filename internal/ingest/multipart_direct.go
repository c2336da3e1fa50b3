package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// directParts keeps uploads as multipart uploads of the store itself, at
// the record's content key: completing one needs no copy. Its uploadId's
// nonce is derived from the store's upload id, and a marker under
// keys.Multipart names the uploadId, so that the plan of each upload (which
// the store does not keep) can be listed. The marker is empty until a
// complete begins, and then says "completing" (see complete); it goes once
// the file has its verdict.
type directParts struct {
	c *Core
	m blob.Multiparter
}

func (directParts) chained() bool { return false }

func (directParts) chainedFor(uploadToken) bool { return false }

// createPart refuses: parts go straight to the store.
func (directParts) createPart(context.Context, meta.File, uploadToken, blob.Part) (blob.Writer, error) {
	return nil, ErrNotIssued
}

// nonceOf is the uploadId salt of the store's upload id.
func nonceOf(storeID string) string {
	h := sha256.Sum256([]byte(storeID))
	return hex.EncodeToString(h[:8])
}

// uploads lists the store's unfinished uploads at rec's content key.
func (d directParts) uploads(ctx context.Context, rec meta.File) ([]blob.Upload, error) {
	key := keys.Content(rec)
	var out []blob.Upload
	err := d.m.ListMultipart(ctx, key, func(u blob.Upload) error {
		if u.Key == key {
			out = append(out, u)
		}
		return nil
	})
	return out, err
}

func (d directParts) sessions(ctx context.Context, rec meta.File) ([]session, error) {
	ups, err := d.uploads(ctx, rec)
	if err != nil {
		return nil, err
	}
	byNonce := map[string]blob.Upload{}
	for _, u := range ups {
		byNonce[nonceOf(u.ID)] = u
	}
	var out []session
	dir := keys.MultipartDir(rec.Tenant, rec.ID)
	err = d.c.blobs.List(ctx, dir, func(i blob.Info) error {
		s, ok := listed(d.c.parseToken(rec, strings.TrimPrefix(i.Key, dir)))
		if u, live := byNonce[s.tok.salt]; ok && live { // a marker without its upload is left to the sweeper
			s.storeID, s.key, s.started = u.ID, u.Key, u.Initiated
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

// session finds the store's upload whose id tok's salt was derived from,
// and only while tok's marker is there: an upload is one this server
// started (it made the marker) and has not completed or aborted.
func (d directParts) session(ctx context.Context, rec meta.File, tok uploadToken) (session, bool, error) {
	_, err := d.c.blobs.Stat(ctx, keys.Multipart(rec.Tenant, rec.ID, tok.String()))
	if errors.Is(err, blob.ErrNotFound) {
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, err
	}
	ups, err := d.uploads(ctx, rec)
	for _, u := range ups {
		if nonceOf(u.ID) == tok.salt {
			return session{tok: tok, storeID: u.ID, key: u.Key, started: u.Initiated}, true, nil
		}
	}
	return session{}, false, err
}

func (d directParts) start(ctx context.Context, rec meta.File, plan uploadToken) (session, error) {
	return d.startWith(ctx, rec, plan, d.m.CreateMultipart)
}

// startWith begins an upload at rec's content key with create, and makes
// its marker.
func (d directParts) startWith(ctx context.Context, rec meta.File, plan uploadToken, create func(context.Context, string) (string, error)) (session, error) {
	key := keys.Content(rec)
	id, err := create(ctx, key)
	if err != nil {
		return session{}, err
	}
	plan.salt = nonceOf(id)
	tok := d.c.newToken(rec, plan)
	if err := putObject(ctx, d.c.blobs, keys.Multipart(rec.Tenant, rec.ID, tok.String()), nil); err != nil {
		return session{}, errors.Join(err, d.m.AbortMultipart(ctx, key, id))
	}
	return session{tok: tok, storeID: id, key: key, started: time.Now()}, nil
}

// putObject stores data under key.
func putObject(ctx context.Context, b blob.Store, key string, data []byte) error {
	w, err := b.Create(ctx, key)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return errors.Join(err, w.Abort())
	}
	return w.Commit(ctx)
}

// markCompleting is what a marker holds once a complete of its upload began.
var markCompleting = []byte("completing")

// completing reports whether tok's marker says that a complete began.
func (d directParts) completing(ctx context.Context, rec meta.File, tok uploadToken) (bool, error) {
	i, err := d.c.blobs.Stat(ctx, keys.Multipart(rec.Tenant, rec.ID, tok.String()))
	if errors.Is(err, blob.ErrNotFound) {
		return false, nil
	}
	return err == nil && i.Size > 0, err
}

// forget removes tok's marker: its upload is completed, and the file has its verdict.
func (d directParts) forget(ctx context.Context, rec meta.File, tok uploadToken) error {
	return d.c.blobs.Delete(ctx, keys.Multipart(rec.Tenant, rec.ID, tok.String()))
}

func (d directParts) parts(ctx context.Context, _ meta.File, sess session) ([]blob.Part, error) {
	return d.m.ListParts(ctx, sess.key, sess.storeID)
}

func (d directParts) partURL(ctx context.Context, _ meta.File, sess session, p blob.Part, exp time.Time) (string, map[string]string, error) {
	if sess.tok.relay { // its parts must pass through a server: never a URL of the store
		return "", nil, ErrNotIssued
	}
	// Presigned lifetimes are whole seconds: round, lest 0.999 s become 0.
	return d.m.PresignPart(ctx, sess.key, sess.storeID, p, time.Until(exp).Round(time.Second))
}

// complete completes the store's upload, which puts its object at the
// content key, and verifies that object. If an object is there already
// (verified content, or another upload's awaiting its verdict), that one is
// settled first; this upload stays, and is completed only if that one was
// wrong and is gone.
//
// Completing is safe to retry, whatever step a failing store cut short.
// Before the store is asked, the marker says "completing": should the
// store's answer be lost, a retry finds the upload gone and either the
// object it left, which it verifies, or, while the store is still at work,
// nothing yet, and answers ErrUnavailable (uploadGone). The marker stays
// until the file has its verdict (CompleteMultipart).
func (d directParts) complete(ctx context.Context, rec meta.File, sess session, parts []blob.Part) (meta.File, error) {
	return d.completeWith(ctx, rec, sess,
		func(ctx context.Context) (string, error) {
			return d.m.CompleteMultipart(ctx, sess.key, sess.storeID, parts)
		},
		d.c.verifyContent)
}

// completeWith is complete with the store's complete (finish) and the
// verification of the object it made (verify) given.
func (d directParts) completeWith(ctx context.Context, rec meta.File, sess session,
	finish func(context.Context) (string, error), verify func(context.Context, meta.File, string) (meta.File, error)) (meta.File, error) {
	c := d.c
	// The record as it is now, not as the request found it: a file settled
	// or deleted meanwhile is not given content, whether or not the store
	// honours If-None-Match (blobtest checks that it does).
	cur, err := c.meta.Get(ctx, rec.Tenant, rec.ID)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return rec, ErrGone
	case err != nil:
		c.cfg.Logger.ErrorContext(ctx, "complete multipart upload", "id", rec.ID, "err", err)
		return rec, ErrUnavailable
	case cur.Status == meta.StatusUploaded:
		return cur, nil
	}
	rec = cur
	const later = "could not complete the multipart upload: a storage backend is unavailable; complete again later"
	if err := putObject(ctx, c.blobs, keys.Multipart(rec.Tenant, rec.ID, sess.tok.String()), markCompleting); err != nil {
		return rec, c.unavailable(ctx, "complete_multipart", rec.ID, err, later)
	}
	etag, err := finish(ctx)
	if errors.Is(err, blob.ErrExists) {
		if f, err, settled := c.clearLeftover(ctx, rec); settled || err != nil {
			return f, err
		}
		// That one was wrong and is gone: this one may go there now.
		etag, err = finish(ctx)
	}
	switch {
	case errors.Is(err, blob.ErrNotFound): // completed by an attempt whose answer was lost, or aborted
		return c.uploadGone(ctx, rec, sess.tok)
	case err != nil:
		return rec, c.unavailable(ctx, "complete_multipart", rec.ID, err, later)
	}
	return verify(ctx, rec, etag)
}

func (d directParts) abort(ctx context.Context, rec meta.File, sess session) error {
	return errors.Join(d.m.AbortMultipart(ctx, sess.key, sess.storeID),
		d.c.blobs.Delete(ctx, keys.Multipart(rec.Tenant, rec.ID, sess.tok.String())))
}

// removeAll aborts every upload at rec's content key, marked or not, and
// removes every marker of rec.
func (d directParts) removeAll(ctx context.Context, rec meta.File) error {
	ups, err := d.uploads(ctx, rec)
	errs := []error{err}
	for _, u := range ups {
		errs = append(errs, d.m.AbortMultipart(ctx, u.Key, u.ID))
	}
	errs = append(errs, d.c.blobs.List(ctx, keys.MultipartDir(rec.Tenant, rec.ID), func(i blob.Info) error {
		return d.c.blobs.Delete(ctx, i.Key)
	}))
	return errors.Join(errs...)
}

// sweep aborts uploads begun before before, at content keys or (made by
// earlier versions) at staging keys, and removes markers as old.
func (d directParts) sweep(ctx context.Context, before time.Time) (int, error) {
	var stale []blob.Upload
	for _, prefix := range []string{keys.ContentPrefix, keys.StagingPrefix} {
		err := d.m.ListMultipart(ctx, prefix, func(u blob.Upload) error {
			if u.Initiated.Before(before) {
				stale = append(stale, u)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	for i, u := range stale {
		if err := d.m.AbortMultipart(ctx, u.Key, u.ID); err != nil {
			return i, err
		}
	}
	var markers []string
	err := d.c.blobs.List(ctx, keys.MultipartPrefix, func(i blob.Info) error {
		if i.ModTime.Before(before) {
			markers = append(markers, i.Key)
		}
		return nil
	})
	for _, k := range markers {
		err = errors.Join(err, d.c.blobs.Delete(ctx, k))
	}
	return len(stale), err
}

// openUploads counts the tenant's markers of open uploads: one per upload
// begun and not yet completed or aborted.
func (d directParts) openUploads(ctx context.Context, tenant string) (int, error) {
	n := 0
	err := d.c.blobs.List(ctx, keys.MultipartPrefix+tenant+"/", func(i blob.Info) error {
		if keys.OpenMarker(i.Key) {
			n++
		}
		return nil
	})
	return n, err
}
