package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// verifyContent hashes the object at rec's content key, put there by
// completing a direct multipart upload (with ETag etag), and settles rec:
// uploaded if it hashes to the sourceHash; otherwise failed, and the object
// removed if it is still the one that was hashed. Reading the object back
// is the only way to know its SHA-256: S3 keeps none of a whole object.
func (s *Server) verifyContent(ctx context.Context, rec meta.File, etag string) (meta.File, *Error) {
	key := contentKey(rec.Tenant, rec.SourceHash, rec.ID)
	sum, n, err := s.hashObject(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		// Removed meanwhile: with its record, or by another verifier that
		// found it wrong and is settling the record.
		f, err := s.awaitFinal(ctx, rec, 30*time.Second)
		switch {
		case errors.Is(err, meta.ErrNotFound):
			return rec, ErrFileGone
		case err != nil:
			return rec, ErrUnavailable
		}
		return f, nil
	}
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "read back multipart upload", "id", rec.ID, "err", err)
		return rec, ErrUnavailable.With("could not read the content back to verify it: a storage backend is unavailable; complete again later")
	}
	if sum != rec.SourceHash {
		reason := fmt.Sprintf("the %d bytes of the parts hash to %s, not to the declared sourceHash", n, sum)
		if err := s.deleteIf(ctx, key, etag); err != nil {
			s.cfg.Logger.ErrorContext(ctx, "remove content that failed verification", "id", rec.ID, "err", err)
		}
		f, err := s.settle(ctx, rec, meta.StatusFailed, 0, reason)
		if err != nil {
			s.cfg.Logger.ErrorContext(ctx, "mark failed", "id", rec.ID, "err", err)
		}
		if f.Status == meta.StatusUploaded { // another upload got there first
			return f, nil
		}
		return rec, ErrHashMismatch.With("%s; the file is marked failed and the content was discarded", reason)
	}
	f, err := s.settle(ctx, rec, meta.StatusUploaded, n, "")
	switch {
	case errors.Is(err, meta.ErrNotFound):
		s.cfg.Blobs.Delete(ctx, key)
		return rec, ErrFileGone
	case err != nil:
		s.cfg.Logger.ErrorContext(ctx, "mark uploaded", "id", rec.ID, "err", err)
		return rec, ErrUnavailable
	}
	return f, nil
}

// deleteIf removes key if its ETag is still etag, where the store can
// tell; otherwise unconditionally.
func (s *Server) deleteIf(ctx context.Context, key, etag string) error {
	if m, ok := s.cfg.Blobs.(blob.Multiparter); ok && etag != "" {
		return m.DeleteIf(ctx, key, etag)
	}
	return s.cfg.Blobs.Delete(ctx, key)
}

// recoverContent settles rec from an object at its content key whose
// verification never ended (its verifier failed or died after completing
// the upload); found is false when there is no such object.
func (s *Server) recoverContent(ctx context.Context, rec meta.File) (f meta.File, e *Error, found bool) {
	info, err := s.cfg.Blobs.Stat(ctx, contentKey(rec.Tenant, rec.SourceHash, rec.ID))
	if errors.Is(err, blob.ErrNotFound) {
		return rec, nil, false
	}
	if err == nil {
		f, err = s.cfg.Meta.Get(ctx, rec.Tenant, rec.ID)
	}
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return rec, ErrFileGone, true
	case err != nil:
		s.cfg.Logger.ErrorContext(ctx, "recover multipart upload", "id", rec.ID, "err", err)
		return rec, ErrUnavailable, true
	case f.Status == meta.StatusUploaded:
		return f, nil, true
	}
	f, e = s.verifyContent(ctx, f, info.ETag)
	return f, e, true
}

// clearLeftover deals with an object found at rec's content key while an
// upload of rec's own is still to be completed: what an earlier complete
// left when its verifier never finished. Right bytes settle the record
// (settled true); wrong ones are removed without failing the record, for
// they are not the bytes of the upload at hand.
func (s *Server) clearLeftover(ctx context.Context, rec meta.File) (meta.File, *Error, bool) {
	key := contentKey(rec.Tenant, rec.SourceHash, rec.ID)
	info, err := s.cfg.Blobs.Stat(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return rec, nil, false
	}
	if err == nil {
		rec, err = s.cfg.Meta.Get(ctx, rec.Tenant, rec.ID)
	}
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return rec, ErrFileGone, true
	case err != nil:
		s.cfg.Logger.ErrorContext(ctx, "look at leftover content", "id", rec.ID, "err", err)
		return rec, ErrUnavailable, true
	case rec.Status == meta.StatusUploaded:
		return rec, nil, true
	}
	sum, n, err := s.hashObject(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return rec, nil, false
	}
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "read back leftover content", "id", rec.ID, "err", err)
		return rec, ErrUnavailable, true
	}
	if sum == rec.SourceHash && n == info.Size {
		f, e := s.verifyContent(ctx, rec, info.ETag)
		return f, e, true
	}
	if err := s.deleteIf(ctx, key, info.ETag); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "remove leftover content", "id", rec.ID, "err", err)
		return rec, ErrUnavailable, true
	}
	return rec, nil, false
}
