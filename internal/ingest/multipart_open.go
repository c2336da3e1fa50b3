package ingest

// Open uploads: a new file's parts sent before its hash is known.
//
// A client that must hash a large file before its first byte leaves reads
// it twice, one pass after the other. An open upload lets it send parts
// while it hashes: OpenMultipart begins a multipart upload for a file id
// chosen now, whose record does not exist yet; parts go the usual way
// (PartTargets, ReceivePart: on the local store chained, so that each part
// is checked as a piece of the whole's SHA-256 as it arrives); and
// CompleteOpen records the file under the hash the client computed, then
// completes it as any multipart upload (CompleteMultipart), which verifies
// the bytes against that hash before the file is uploaded. Content the
// tenant already has is found then, and the upload discarded: the client
// looks for it as soon as its hash is known (and abandons the upload), and
// a tenant holding a file of the same size is told to hash first
// (ErrHashFirst), as Stream does, so that known content sends nothing.
//
// Nothing but the uploadId names an open upload, and its MAC (an open
// token: its own domain, token.go) binds it to the tenant and the file id,
// so that no record's upload stands for one. An abandoned open upload is
// the sweeper's, as any unfinished multipart upload is.

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// openRecord is the record an open upload of tenant's file id will make,
// as far as it is known before the upload completes: the keys of its
// parts and content follow from it (its kind is streamed, so its content
// key does not depend on its hash).
func openRecord(tenant, id string) meta.File {
	return meta.File{ID: id, Tenant: tenant, Kind: meta.KindStreamed}
}

// unrecorded reports whether rec is an openRecord, not a stored record:
// every stored record has a hash.
func unrecorded(rec meta.File) bool { return rec.SourceHash == "" }

// OpenMultipart begins an open upload of a new file of tenant's: size
// bytes in parts of partSize, whose hash is not known yet. It fails with
// ErrHashFirst when the tenant has an uploaded file of that size, since
// the content may be there already.
func (c *Core) OpenMultipart(ctx context.Context, tenant string, size, partSize int64) (Upload, error) {
	if err := c.checkPlan(size, partSize); err != nil {
		return Upload{}, err
	}
	if err := c.hashFirst(ctx, tenant, size, hashAndCreate); err != nil {
		return Upload{}, err
	}
	if err := c.roomForOpen(ctx, tenant, size); err != nil {
		return Upload{}, err
	}
	rec := openRecord(tenant, uuid.Must(uuid.NewV7()).String())
	sess, err := c.parts.start(ctx, rec, c.newToken(rec, uploadToken{open: true, size: size, partSize: partSize}))
	if err != nil {
		return Upload{}, c.unavailable(ctx, "start_multipart", rec.ID, err, "could not begin the upload: a storage backend is unavailable; try again later")
	}
	return c.describe(ctx, rec, sess)
}

// recordOrOpen returns tenant's record id or, when there is none and
// upload is an open upload of that id, its openRecord; otherwise missing.
func (c *Core) recordOrOpen(ctx context.Context, tenant, id, upload string, missing error) (meta.File, error) {
	rec, err := c.meta.Get(ctx, tenant, id)
	if !errors.Is(err, meta.ErrNotFound) {
		return rec, err
	}
	o := openRecord(tenant, id)
	if tok, err := c.parseToken(o, upload); err == nil && tok.open {
		return o, nil
	}
	return rec, missing
}

// CompleteOpen completes open upload upload of tenant's file id: it
// records the file as name, with the SHA-256 the client computed, then
// completes the upload as CompleteMultipart does, which makes the file
// uploaded only if its bytes hash to it, and failed otherwise. When the
// tenant has an uploaded file of that content, that file is the answer
// (existing true) and the upload is discarded. When a pending file has
// it (another upload of it under way, or one that failed), it fails with
// ErrContentPending, keeping the upload: the client sends the content to
// that file instead (create), or completes again later.
func (c *Core) CompleteOpen(ctx context.Context, tenant, id, upload, name, sha256 string, listed []PartRef) (f meta.File, existing bool, err error) {
	rec, err := c.meta.Get(ctx, tenant, id)
	switch {
	case err == nil: // recorded by a complete before, whose answer was lost or which is under way
		f, err := c.CompleteMultipart(ctx, tenant, id, upload, listed)
		return f, false, err
	case !errors.Is(err, meta.ErrNotFound):
		return rec, false, err
	}
	o := openRecord(tenant, id)
	tok, err := c.tokenFor(o, upload)
	switch {
	case err != nil:
		return o, false, err
	case !tok.open: // a record's upload, and the record is gone
		return o, false, ErrGone
	}
	hash, ok := CheckHash(sha256)
	if !ok {
		return o, false, failf(ErrInvalidHash, "sha256 %q is not a SHA-256 (64 hexadecimal characters): complete an open upload with the hash of the whole file", sha256)
	}
	if f, ok, err := c.uploadedWith(ctx, tenant, hash); err != nil || ok {
		if ok {
			c.discardOpen(ctx, tenant, id, upload)
		}
		return f, ok, err
	}
	sess, found, err := c.parts.session(ctx, o, tok)
	if err != nil {
		return o, false, c.unavailable(ctx, "find_multipart", id, err, "could not find the upload: a storage backend is unavailable; complete again later")
	}
	if !found {
		return o, false, ErrUploadNotFound
	}
	// Every part must be there before the record is made: a complete that
	// cannot finish must leave no pending record behind.
	if err := c.allStored(ctx, o, sess); err != nil {
		return o, false, err
	}
	if err := c.roomForRecord(ctx, tenant, hash); err != nil {
		return o, false, err
	}
	if err := c.roomFor(ctx, tenant, false, tok.size); err != nil {
		return o, false, err
	}
	got, created, err := c.meta.Claim(ctx, meta.File{ID: id, Tenant: tenant, Name: name, SourceHash: hash, Kind: meta.KindStreamed, CreatedAt: now()})
	switch {
	case err != nil:
		return o, false, err
	case created, got.ID == id: // ours, or made by a complete of this upload under way
		f, err := c.CompleteMultipart(ctx, tenant, id, upload, listed)
		return f, false, err
	case got.Status == meta.StatusUploaded: // uploaded meanwhile
		c.discardOpen(ctx, tenant, id, upload)
		return got, true, nil
	}
	return got, false, failf(ErrContentPending, "file %s, pending, has this content: create the file (POST /api/v0/file with this sha256) and send the content to it, or complete this upload again once that file is settled", got.ID)
}

// uploadedWith returns tenant's uploaded file with content hash, if any.
func (c *Core) uploadedWith(ctx context.Context, tenant, hash string) (meta.File, bool, error) {
	have, err := c.meta.Find(ctx, tenant, nil, []string{hash})
	for _, f := range have {
		if f.Status == meta.StatusUploaded {
			return f, true, nil
		}
	}
	return meta.File{}, false, err
}

// discardOpen aborts an open upload whose content turned out to be there;
// if that fails, the sweeper removes it.
func (c *Core) discardOpen(ctx context.Context, tenant, id, upload string) {
	if err := c.AbortMultipart(context.WithoutCancel(ctx), tenant, id, upload); err != nil {
		c.cfg.Logger.WarnContext(ctx, "discard an open upload of known content; the sweeper will", "id", id, "err", err)
	}
}

// allStored fails with ErrPartsMissing unless every part of upload sess
// of rec is stored with its planned size.
func (c *Core) allStored(ctx context.Context, rec meta.File, sess session) error {
	stored, err := c.parts.parts(ctx, rec, sess)
	if err != nil && !errors.Is(err, blob.ErrNotFound) {
		return c.unavailable(ctx, "list_parts", rec.ID, err, "could not list the parts: a storage backend is unavailable; complete again later")
	}
	have := map[int]bool{}
	for _, p := range stored {
		if p.Number >= 1 && p.Number <= sess.tok.count() && p.Size == sess.tok.partLen(p.Number) {
			have[p.Number] = true
		}
	}
	if n := sess.tok.count(); len(have) < n {
		return failf(ErrPartsMissing, "%d of %d parts are not stored; upload them and complete again", n-len(have), n)
	}
	return nil
}

// roomForOpen is roomFor a new file of size bytes, for one more open or
// resumable upload: the tenant's open and resumable uploads count as files
// against its quota, as pending records do, so that uploads without
// records cannot get round it.
func (c *Core) roomForOpen(ctx context.Context, tenant string, size int64) error {
	if c.cfg.QuotaFiles <= 0 && c.cfg.QuotaBytes <= 0 {
		return nil
	}
	u, err := c.meta.Usage(ctx, tenant)
	if err != nil {
		return err
	}
	if c.cfg.QuotaFiles > 0 {
		n, err := c.parts.openUploads(ctx, tenant)
		if err != nil {
			return err
		}
		u.Files += int64(n)
	}
	// Resumable uploads hold their bytes until they end: they count as
	// files, and their sizes as bytes.
	m, pending, err := c.resumableUploads(ctx, tenant)
	if err != nil {
		return err
	}
	u.Files += int64(m)
	u.Bytes += pending
	return c.fits(u, true, size)
}
