package ingest

// Multipart uploads: large files in parts, several at once, resumable.
//
// For one file record, a client starts an upload with a plan (its size and
// part size), asks where to send parts (PartTargets), sends them, and
// completes the upload. The uploadId clients see is
// "[o][r]<size>-<partSize>-<salt><mac>" (o: open, r: relayed; token.go):
// the plan travels with it, so no table
// holds upload state; the store does. The mac is an HMAC under the signing
// key over tenant, file id, size, partSize and salt (token.go), so that no
// client can name an upload the core did not start, and every uploadId is
// checked against the limits (checkPlan) before its plan is used. Part n
// covers bytes [(n-1)·partSize, min(n·partSize, size)). Every part is bound
// to its exact length and to the SHA-256 the client computed from its file,
// and the store refuses other bytes, so a part that is stored is a part
// that is right; listed parts carry that SHA-256, so a resuming client
// checks them against its file before skipping them. Completing hashes the
// whole content against the record's sourceHash before the record says
// uploaded (settle).
//
// How the parts are kept depends on the store, and is chosen once, in New
// (parter): in the store itself, as an S3 multipart upload at the record's
// content key, its parts sent straight to S3 (directParts) or relayed
// through the server (relayedParts, the default on S3), or sent through
// the server into an assembly written in place (assembledParts, the local
// store).
//
// Unfinished uploads are removed when their file is deleted, when another
// upload of the file completes, and by SweepMultipart once stale.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/perseus-go/perseus/internal/sha256chain"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// Upload is one unfinished multipart upload of a file, as clients see it.
type Upload struct {
	ID             string // the uploadId
	FileID         string
	Size, PartSize int64
	PartCount      int
	Parts          []blob.Part // stored so far, one per number
	// ChainedParts says whether this upload takes chained parts (From):
	// the server's chainedParts when it began, which a client should
	// follow over /api/v0/limits, since replicas may differ meanwhile.
	ChainedParts bool
}

// PartRef names a part: by its own SHA-256, or when chained (From set) by
// the whole's SHA-256 chaining value before it (From) and after it (SHA256;
// for the last part, the SHA-256 of the whole).
type PartRef struct {
	Number int
	SHA256 string
	From   string
}

// PartTarget is where one part goes: a URL of the store and the headers to
// send with it, or no URL when parts go through the HTTP layer
// (ReceivePart), which makes its own.
type PartTarget struct {
	Part   blob.Part
	URL    string
	Header map[string]string
}

// StartMultipart starts an upload of tenant's file id with this plan, or
// resumes the newest unfinished one with the same plan (created false);
// others are left to finish or to be swept, since another client may be
// sending them. Each start, a resuming one too, checks that size fits the
// tenant's byte quota.
func (c *Core) StartMultipart(ctx context.Context, tenant, id string, size, partSize int64) (Upload, bool, error) {
	if err := c.checkPlan(size, partSize); err != nil {
		return Upload{}, false, err
	}
	rec, err := c.Get(ctx, tenant, id)
	if err != nil {
		return Upload{}, false, err
	}
	if rec.Status == meta.StatusUploaded {
		return Upload{}, false, ErrAlreadyUploaded
	}
	if err := c.roomFor(ctx, tenant, false, size); err != nil {
		return Upload{}, false, err
	}
	sessions, err := c.parts.sessions(ctx, rec)
	if err != nil {
		return Upload{}, false, err
	}
	var sess *session
	for i := range sessions {
		s := &sessions[i]
		// An upload is resumed only if it takes the parts new ones take: a
		// direct one (no chained parts) is not, where new ones are relayed,
		// lest a client told chainedParts chain its parts to it; it is left
		// to finish as it began (its client has its part URLs) or to the
		// sweeper. A relayed one takes parts either way.
		if s.foreign == nil && s.tok.size == size && s.tok.partSize == partSize && c.resumable(s.tok) &&
			(sess == nil || s.started.After(sess.started)) {
			sess = s
		}
	}
	if sess == nil {
		if err := c.foreignUpload(sessions); err != nil {
			return Upload{}, false, err
		}
	}
	created := sess == nil
	if created {
		started, err := c.parts.start(ctx, rec, c.newToken(rec, uploadToken{size: size, partSize: partSize}))
		if err != nil {
			return Upload{}, false, err
		}
		sess = &started
	}
	if err := c.touch(ctx, rec); err != nil {
		return Upload{}, false, err
	}
	u, err := c.describe(ctx, rec, *sess)
	return u, created, err
}

// NewestMultipart returns the newest unfinished upload of tenant's file id.
func (c *Core) NewestMultipart(ctx context.Context, tenant, id string) (Upload, error) {
	rec, err := c.Get(ctx, tenant, id)
	open := errors.Is(err, ErrNotFound) // an open upload's file, perhaps
	if open {
		rec = openRecord(tenant, id)
	} else if err != nil {
		return Upload{}, err
	}
	sessions, err := c.parts.sessions(ctx, rec)
	if err != nil {
		return Upload{}, err
	}
	var newest *session
	for i := range sessions {
		if s := &sessions[i]; s.foreign == nil && (s.tok.open || !open) && c.resumable(s.tok) &&
			(newest == nil || s.started.After(newest.started)) {
			newest = s
		}
	}
	if newest == nil {
		if open {
			sessions = slices.DeleteFunc(sessions, func(s session) bool { return !s.tok.open })
		}
		if err := c.foreignUpload(sessions); err != nil {
			return Upload{}, err
		}
		if open {
			return Upload{}, ErrNotFound
		}
		return Upload{}, failf(ErrUploadNotFound, "file %s has no unfinished multipart upload", rec.ID)
	}
	return c.describe(ctx, rec, *newest)
}

// foreignUpload is the error for a file whose only live uploads were
// started by a server with a signing key this one does not have: going on
// without them would send the whole file again, silently; the operator must
// give every replica the same keys. Uploads idle longer than PendingTTL are
// the sweeper's, not a reason to refuse.
func (c *Core) foreignUpload(sessions []session) error {
	for _, s := range sessions {
		if s.foreign != nil && time.Since(s.started) < c.cfg.PendingTTL {
			return s.foreign
		}
	}
	return nil
}

// describe returns upload sess of rec with the parts it holds, one per number.
func (c *Core) describe(ctx context.Context, rec meta.File, sess session) (Upload, error) {
	stored, err := c.parts.parts(ctx, rec, sess)
	if err != nil && !errors.Is(err, blob.ErrNotFound) {
		return Upload{}, err
	}
	u := Upload{ID: sess.tok.String(), FileID: rec.ID, Size: sess.tok.size, PartSize: sess.tok.partSize,
		PartCount: sess.tok.count(), Parts: []blob.Part{}, ChainedParts: c.takesChained(sess.tok)}
	seen := map[int]int{}
	for _, p := range stored {
		if p.Number < 1 || p.Number > sess.tok.count() {
			continue
		}
		if i, dup := seen[p.Number]; dup {
			u.Parts[i] = p
			continue
		}
		seen[p.Number] = len(u.Parts)
		u.Parts = append(u.Parts, p)
	}
	return u, nil
}

// session returns rec's upload named upload, or ErrUploadNotFound.
func (c *Core) session(ctx context.Context, rec meta.File, upload string) (session, error) {
	tok, err := c.tokenFor(rec, upload)
	if err != nil {
		return session{}, err
	}
	sess, found, err := c.parts.session(ctx, rec, tok)
	if err != nil {
		return sess, err
	}
	if !found {
		return sess, ErrUploadNotFound
	}
	return sess, nil
}

// maxPartTargets caps the parts of one PartTargets call.
const maxPartTargets = 100

// PartTargets returns where to send the parts refs of tenant's file id's
// upload, valid until exp, and the record they belong to.
func (c *Core) PartTargets(ctx context.Context, tenant, id, upload string, refs []PartRef, exp time.Time) (meta.File, []PartTarget, error) {
	rec, err := c.recordOrOpen(ctx, tenant, id, upload, ErrNotFound)
	if err != nil {
		return rec, nil, err
	}
	if rec.Status == meta.StatusUploaded {
		return rec, nil, ErrAlreadyUploaded
	}
	sess, err := c.session(ctx, rec, upload)
	if err != nil {
		return rec, nil, err
	}
	if len(refs) == 0 || len(refs) > maxPartTargets {
		return rec, nil, failf(ErrInvalidParts, "ask for 1 to %d part URLs at a time, not %d", maxPartTargets, len(refs))
	}
	refs, err = c.checkRefs(refs, sess.tok)
	if err != nil {
		return rec, nil, err
	}
	if err := c.touch(ctx, rec); err != nil {
		return rec, nil, err
	}
	out := make([]PartTarget, 0, len(refs))
	for _, ref := range refs {
		p := blob.Part{Number: ref.Number, Size: sess.tok.partLen(ref.Number), SHA256: ref.SHA256, From: ref.From}
		u, header, err := c.parts.partURL(ctx, rec, sess, p, exp)
		if err != nil {
			return rec, nil, err
		}
		if header == nil {
			header = map[string]string{}
		}
		out = append(out, PartTarget{Part: p, URL: u, Header: header})
	}
	return rec, out, nil
}

// resumable reports whether upload tok takes the parts a client told
// this server's chainedParts may send: chained ones, if it offers them.
func (c *Core) resumable(tok uploadToken) bool { return c.parts.chainedFor(tok) || !c.parts.chained() }

// takesChained reports whether upload tok takes chained parts: its way
// allows them, and its parts end at SHA-256 block boundaries.
func (c *Core) takesChained(tok uploadToken) bool {
	return c.parts.chainedFor(tok) && (tok.count() == 1 || tok.partSize%sha256chain.BlockSize == 0)
}

// checkRefs checks part references against the upload's plan and returns
// them with hashes in lower case.
func (c *Core) checkRefs(refs []PartRef, tok uploadToken) ([]PartRef, error) {
	seen := map[int]bool{}
	out := make([]PartRef, len(refs))
	for i, ref := range refs {
		h, ok := CheckHash(ref.SHA256)
		if !ok || ref.Number < 1 || ref.Number > tok.count() || seen[ref.Number] {
			return nil, failf(ErrInvalidParts, "part %d (sha256 %q): parts must list partNumber (from 1 to the upload's partCount) and sha256 (64 hexadecimal characters), each number once; this upload has parts 1 to %d",
				ref.Number, ref.SHA256, tok.count())
		}
		seen[ref.Number] = true
		out[i] = PartRef{Number: ref.Number, SHA256: h}
		if ref.From == "" {
			continue
		}
		from, ok := CheckHash(ref.From)
		switch {
		case !c.parts.chainedFor(tok) && c.parts.chained():
			return nil, failf(ErrInvalidParts, "part %d has a from: this upload's parts go straight to the store (it was begun by a server with --s3-parts direct), which takes no chained parts; name each part by its own sha256, or start a new upload", ref.Number)
		case !c.parts.chainedFor(tok):
			return nil, failf(ErrInvalidParts, "part %d has a from: this upload takes no chained parts (see chainedParts in its answer); name each part by its own sha256", ref.Number)
		case !ok:
			return nil, failf(ErrInvalidParts, "part %d: from %q is not a SHA-256 chaining value (64 hex digits)", ref.Number, ref.From)
		case tok.count() > 1 && tok.partSize%sha256chain.BlockSize != 0:
			return nil, failf(ErrInvalidParts, "part %d has a from, but a partSize of %d bytes is not a multiple of 64: chained parts must start and end at SHA-256 block boundaries", ref.Number, tok.partSize)
		}
		out[i].From = from
	}
	return out, nil
}

// CheckHash accepts 64 hex characters and returns them in lower case.
func CheckHash(h string) (string, bool) {
	if len(h) != 64 {
		return "", false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "", false
		}
	}
	return strings.ToLower(h), true
}

// completeLock is the name under which a record's multipart uploads are
// completed; aborts and part writes respect it.
func completeLock(rec meta.File) string { return "complete/" + rec.ID }

// AbortMultipart discards tenant's file id's upload and its parts. Not
// while the file is being completed: it waits for the verdict (at most
// 30 s), so that it never removes what a complete is committing.
func (c *Core) AbortMultipart(ctx context.Context, tenant, id, upload string) error {
	rec, err := c.recordOrOpen(ctx, tenant, id, upload, ErrNotFound)
	if err != nil {
		return err
	}
	sess, err := c.session(ctx, rec, upload)
	if err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	unlock, err := c.locks.Lock(wait, completeLock(rec))
	if err != nil {
		return fmt.Errorf("the file is still being completed: %w", err)
	}
	defer unlock()
	return c.parts.abort(ctx, rec, sess)
}

// checkPlan answers whether a file of size bytes in parts of partSize bytes
// is within the limits: ErrTooLarge for what exceeds them, ErrInvalidPlan
// for what makes no sense.
func (c *Core) checkPlan(size, partSize int64) error {
	const sizes = "size and partSize must be positive, and partSize at least the server's minPartSize unless the file fits in one part (see GET /api/v0/limits)"
	switch {
	case size <= 0 || partSize <= 0:
		return failf(ErrInvalidPlan, "size %d and partSize %d: %s", size, partSize, sizes)
	case size > c.cfg.MaxFileSize:
		return failf(ErrTooLarge, "the file is %d bytes; this server accepts at most %d (maxFileSize)", size, c.cfg.MaxFileSize)
	case partSize > c.cfg.MaxPartSize:
		return failf(ErrTooLarge, "partSize %d is more than this server's maxPartSize %d", partSize, c.cfg.MaxPartSize)
	case partSize < c.cfg.MinPartSize && size > partSize:
		return failf(ErrInvalidPlan, "partSize %d is less than this server's minPartSize %d", partSize, c.cfg.MinPartSize)
	}
	if n := (size + partSize - 1) / partSize; n > int64(c.cfg.MaxParts) {
		return failf(ErrTooLarge, "%d bytes in parts of %d make %d parts; this server accepts at most %d (maxParts): use larger parts", size, partSize, n, c.cfg.MaxParts)
	}
	return nil
}
