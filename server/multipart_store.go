package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// session is one unfinished multipart upload of a record.
type session struct {
	tok     uploadToken
	storeID string    // the store's upload id (S3); empty for uploads through this server
	key     string    // the object the upload creates (S3)
	started time.Time // when it began; through this server, when its last part arrived
}

// parter keeps multipart uploads: in the store itself (S3), or as objects
// in any store with parts sent through this server.
type parter interface {
	// sessions lists rec's unfinished uploads.
	sessions(ctx context.Context, rec meta.File) ([]session, error)
	// session finds rec's upload tok; found is false when there is none.
	session(ctx context.Context, rec meta.File, tok uploadToken) (sess session, found bool, err error)
	// start begins an upload.
	start(ctx context.Context, rec meta.File, tok uploadToken) (session, error)
	// parts lists the parts stored, possibly several with one number.
	parts(ctx context.Context, rec meta.File, sess session) ([]blob.Part, error)
	// partURL returns where to PUT part p, and the headers to send with it.
	partURL(r *http.Request, rec meta.File, sess session, p blob.Part, exp time.Time) (string, map[string]string, error)
	// complete makes parts (one per number, in order) rec's content, verified,
	// and returns the settled record.
	complete(ctx context.Context, rec meta.File, sess session, parts []blob.Part) (meta.File, *Error)
	// settling reports whether upload tok was completed and awaits verification.
	settling(ctx context.Context, rec meta.File, tok uploadToken) bool
	// abort discards an upload and its parts.
	abort(ctx context.Context, rec meta.File, sess session) error
}

// parter returns how this server's store keeps multipart uploads.
func (s *Server) parter() parter {
	if m, ok := s.cfg.Blobs.(blob.Multiparter); ok {
		return directParts{s, m}
	}
	return serverParts{s}
}

// directParts keeps uploads as multipart uploads of the store itself.
type directParts struct {
	s *Server
	m blob.Multiparter
}

func (d directParts) sessions(ctx context.Context, rec meta.File) ([]session, error) {
	var out []session
	prefix := multipartKey(rec.Tenant, rec.ID, "")
	err := d.m.ListMultipart(ctx, prefix, func(u blob.Upload) error {
		if tok, ok := parseToken(strings.TrimPrefix(u.Key, prefix)); ok {
			out = append(out, session{tok: tok, storeID: u.ID, key: u.Key, started: u.Initiated})
		}
		return nil
	})
	return out, err
}

func (d directParts) session(ctx context.Context, rec meta.File, tok uploadToken) (session, bool, error) {
	all, err := d.sessions(ctx, rec)
	var found *session
	for i, c := range all {
		if c.tok == tok && (found == nil || c.started.After(found.started)) {
			found = &all[i]
		}
	}
	if found == nil {
		return session{}, false, err
	}
	return *found, true, err
}

func (d directParts) start(ctx context.Context, rec meta.File, tok uploadToken) (session, error) {
	key := multipartKey(rec.Tenant, rec.ID, tok.String())
	id, err := d.m.CreateMultipart(ctx, key)
	return session{tok: tok, storeID: id, key: key, started: time.Now()}, err
}

func (d directParts) parts(ctx context.Context, _ meta.File, sess session) ([]blob.Part, error) {
	return d.m.ListParts(ctx, sess.key, sess.storeID)
}

func (d directParts) partURL(r *http.Request, _ meta.File, sess session, p blob.Part, exp time.Time) (string, map[string]string, error) {
	// Presigned lifetimes are whole seconds: round, lest 0.999 s become 0.
	return d.m.PresignPart(r.Context(), sess.key, sess.storeID, p, time.Until(exp).Round(time.Second))
}

// complete completes the store's upload, which leaves an ordinary staged
// object, and verifies that object here and now as the background verifier
// would; if the verifier already took it, it waits for its verdict.
func (d directParts) complete(ctx context.Context, rec meta.File, sess session, parts []blob.Part) (meta.File, *Error) {
	s := d.s
	if err := d.m.CompleteMultipart(ctx, sess.key, sess.storeID, parts); err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return rec, ErrUploadNotFound
		}
		s.cfg.Logger.ErrorContext(ctx, "complete multipart upload", "id", rec.ID, "err", err)
		return rec, ErrUnavailable.With("could not complete the multipart upload: a storage backend is unavailable; complete again later")
	}
	if s.claimVerify(sess.key) {
		err := s.verifyStaged(ctx, blob.Info{Key: sess.key})
		s.releaseVerify(sess.key)
		if err != nil {
			s.cfg.Logger.WarnContext(ctx, "verify multipart upload; the background verifier will retry", "id", rec.ID, "err", err)
		}
	}
	f, err := s.awaitFinal(ctx, rec, 30*time.Second)
	if errors.Is(err, meta.ErrNotFound) {
		return rec, ErrFileGone
	}
	if err != nil {
		return rec, ErrUnavailable
	}
	return f, nil
}

func (d directParts) settling(ctx context.Context, rec meta.File, tok uploadToken) bool {
	_, err := d.s.cfg.Blobs.Stat(ctx, multipartKey(rec.Tenant, rec.ID, tok.String()))
	return err == nil
}

func (d directParts) abort(ctx context.Context, _ meta.File, sess session) error {
	return d.m.AbortMultipart(ctx, sess.key, sess.storeID)
}

// serverParts keeps each part as an object under partKey, sent through
// this server (handlePartUpload).
type serverParts struct{ s *Server }

// storedPart is one part object through this server.
type storedPart struct {
	upload string
	part   blob.Part
	info   blob.Info
}

// list returns the part objects of rec under dir (partsDir or one upload's).
func (p serverParts) list(ctx context.Context, rec meta.File, dir string) ([]storedPart, error) {
	var out []storedPart
	base := partsDir(rec.Tenant, rec.ID)
	err := p.s.cfg.Blobs.List(ctx, dir, func(i blob.Info) error {
		upload, name, ok := strings.Cut(strings.TrimPrefix(i.Key, base), "/")
		num, sha, ok2 := strings.Cut(name, "-")
		n, err := strconv.Atoi(num)
		if !ok || !ok2 || err != nil || len(sha) != 64 {
			return nil // not a part
		}
		out = append(out, storedPart{upload, blob.Part{Number: n, Size: i.Size, SHA256: sha, ETag: `"` + sha + `"`}, i})
		return nil
	})
	return out, err
}

func (p serverParts) sessions(ctx context.Context, rec meta.File) ([]session, error) {
	stored, err := p.list(ctx, rec, partsDir(rec.Tenant, rec.ID))
	if err != nil {
		return nil, err
	}
	byID := map[string]session{}
	for _, sp := range stored {
		tok, ok := parseToken(sp.upload)
		if c, seen := byID[sp.upload]; ok && (!seen || sp.info.ModTime.After(c.started)) {
			byID[sp.upload] = session{tok: tok, started: sp.info.ModTime}
		}
	}
	out := make([]session, 0, len(byID))
	for _, c := range byID {
		out = append(out, c)
	}
	return out, nil
}

// session always finds tok: an upload through this server exists from its
// first part, and holds nothing before.
func (p serverParts) session(_ context.Context, _ meta.File, tok uploadToken) (session, bool, error) {
	return session{tok: tok}, true, nil
}

func (p serverParts) start(_ context.Context, _ meta.File, tok uploadToken) (session, error) {
	return session{tok: tok, started: time.Now()}, nil
}

func (p serverParts) parts(ctx context.Context, rec meta.File, sess session) ([]blob.Part, error) {
	stored, err := p.list(ctx, rec, partsDir(rec.Tenant, rec.ID)+sess.tok.String()+"/")
	out := make([]blob.Part, len(stored))
	for i, sp := range stored {
		out[i] = sp.part
	}
	return out, err
}

func (p serverParts) partURL(r *http.Request, rec meta.File, sess session, part blob.Part, exp time.Time) (string, map[string]string, error) {
	c := partClaims{tenant: rec.Tenant, hash: rec.SourceHash, upload: sess.tok.String(), part: part.Number, size: part.Size, sha256: part.SHA256}
	return p.s.baseURL(r) + "/upload/" + rec.ID + "/parts/" + strconv.Itoa(part.Number) + "?" + p.s.sign.partQuery(rec.ID, c, exp), nil, nil
}

func (p serverParts) complete(ctx context.Context, rec meta.File, sess session, parts []blob.Part) (meta.File, *Error) {
	return p.s.assemble(ctx, rec, sess.tok, parts)
}

func (p serverParts) settling(context.Context, meta.File, uploadToken) bool { return false }

func (p serverParts) abort(ctx context.Context, rec meta.File, sess session) error {
	return p.removeDir(ctx, partsDir(rec.Tenant, rec.ID)+sess.tok.String()+"/")
}

// removeDir deletes every object under dir.
func (p serverParts) removeDir(ctx context.Context, dir string) error {
	var keys []string
	if err := p.s.cfg.Blobs.List(ctx, dir, func(i blob.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		errs = append(errs, p.s.cfg.Blobs.Delete(ctx, k))
	}
	return errors.Join(errs...)
}
