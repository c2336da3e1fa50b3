package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// handleUpload receives the content of a file through a URL this server signed.
// The bytes stream to the blob store while being hashed; only verified,
// durably committed bytes make the file uploaded.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	tenant, hash, e := s.sign.check(id, r.URL.Query(), time.Now())
	if e != nil {
		writeError(w, e)
		return
	}
	rec, err := s.cfg.Meta.Get(r.Context(), tenant, id)
	if errors.Is(err, meta.ErrNotFound) {
		writeError(w, ErrFileGone)
		return
	}
	if err != nil {
		s.storeError(w, r, "upload", err)
		return
	}
	if rec.SourceHash != hash {
		writeError(w, ErrURLInvalid)
		return
	}
	if rec.Status == meta.StatusUploaded {
		writeError(w, ErrAlreadyDone)
		return
	}
	if rec.Status == meta.StatusFailed {
		writeError(w, ErrFileFailed.With("this file is marked failed (%s); create it again (same name and sourceHash) for a fresh upload URL", rec.Reason))
		return
	}
	if r.ContentLength > s.cfg.MaxFileSize {
		writeError(w, ErrTooLarge.With("the body is %d bytes; this server accepts at most %d", r.ContentLength, s.cfg.MaxFileSize))
		return
	}
	f, e := s.receive(w, r, rec)
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, toFile(f))
}

// receive streams the body into the blob store and settles the record.
func (s *Server) receive(w http.ResponseWriter, r *http.Request, rec meta.File) (meta.File, *Error) {
	ctx := r.Context()
	bw, got, n, e := s.copyIn(w, r, contentKey(rec.Tenant, rec.SourceHash, rec.ID), rec.ID)
	if e != nil {
		return rec, e
	}
	if got != rec.SourceHash {
		bw.Abort()
		reason := "uploaded bytes hash to " + got + ", not to the declared sourceHash"
		if _, err := s.settle(context.WithoutCancel(ctx), rec, meta.StatusFailed, 0, reason); err != nil {
			s.cfg.Logger.Error("mark failed", "id", rec.ID, "err", err)
		}
		return rec, ErrHashMismatch.With("the %d uploaded bytes hash to %s, not to the file's sourceHash %s; the file is marked failed and the bytes were discarded", n, got, rec.SourceHash)
	}
	if e := s.commit(ctx, bw, rec.ID); e != nil {
		return rec, e
	}
	return s.settleUploaded(context.WithoutCancel(ctx), rec, n)
}

// copyIn streams the request body into a new object under key, hashing it
// on the way, and returns the writer uncommitted with the hex SHA-256 and
// the length of what it received: the caller commits or aborts. A body of
// known length goes in one streamed request where the store has one
// (blob.SizedCreator). id is for logs.
func (s *Server) copyIn(w http.ResponseWriter, r *http.Request, key, id string) (blob.Writer, string, int64, *Error) {
	ctx := r.Context()
	var bw blob.Writer
	var err error
	if sc, ok := s.cfg.Blobs.(blob.SizedCreator); ok && r.ContentLength >= 0 && r.ContentLength <= sc.MaxSized() {
		bw, err = sc.CreateSized(ctx, key, r.ContentLength)
	} else {
		bw, err = s.cfg.Blobs.Create(ctx, key)
	}
	if err != nil {
		s.obs.blobError("create")
		s.cfg.Logger.ErrorContext(ctx, "blob create", "id", id, "err", err)
		return nil, "", 0, ErrUnavailable
	}
	h := sha256.New()
	n, err := copyHashing(bw, http.MaxBytesReader(w, r.Body, s.cfg.MaxFileSize), h)
	if err != nil {
		bw.Abort()
		var maxErr *http.MaxBytesError
		switch {
		case errors.As(err, &maxErr):
			return nil, "", n, ErrTooLarge.With("the body is larger than the %d bytes this server accepts; nothing was kept", s.cfg.MaxFileSize)
		case storeFailed(err):
			s.obs.blobError("write")
			s.cfg.Logger.ErrorContext(ctx, "blob write", "id", id, "err", err)
			return nil, "", n, ErrUnavailable.With("could not store the bytes; nothing was kept, send them again")
		}
		return nil, "", n, ErrIncomplete.With("the upload was cut off after %d bytes (%v); nothing was kept, send it again", n, err)
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		bw.Abort()
		return nil, "", n, ErrIncomplete.With("received %d bytes but Content-Length said %d; nothing was kept", n, r.ContentLength)
	}
	return bw, hex.EncodeToString(h.Sum(nil)), n, nil
}

// commit makes what bw received durable under its key.
func (s *Server) commit(ctx context.Context, bw blob.Writer, id string) *Error {
	if err := bw.Commit(ctx); err != nil {
		s.obs.blobError("commit")
		s.cfg.Logger.ErrorContext(ctx, "blob commit", "id", id, "err", err)
		return ErrUnavailable.With("could not store the bytes durably; nothing was kept, send them again")
	}
	return nil
}

// settleUploaded records rec uploaded once its n verified bytes are durable
// under its content key. If the record went away meanwhile (deleted by its
// owner, or by the sweeper after PendingTTL without an upload) or would
// not settle, the bytes go too: nothing is acknowledged for a record that
// is not there, and content a failed delete leaves has no record, so the
// sweeper removes it once older than OrphanGrace.
func (s *Server) settleUploaded(ctx context.Context, rec meta.File, n int64) (meta.File, *Error) {
	f, err := s.settle(ctx, rec, meta.StatusUploaded, n, "")
	if err == nil {
		return f, nil
	}
	if errors.Is(err, meta.ErrNotFound) || errors.Is(err, meta.ErrConflict) {
		s.cfg.Blobs.Delete(ctx, contentKey(rec.Tenant, rec.SourceHash, rec.ID))
		s.removeMultipart(ctx, rec)
		if errors.Is(err, meta.ErrNotFound) {
			return rec, ErrFileGone.With("the file was deleted before its upload was recorded (by a DELETE, or by the server because it stayed pending longer than the server's pending TTL); the bytes were discarded: create the file again for a fresh upload URL")
		}
		return rec, ErrFileFailed
	}
	s.cfg.Logger.ErrorContext(ctx, "mark uploaded", "id", rec.ID, "err", err)
	return rec, ErrUnavailable
}

// settle moves rec to status to, from pending or from failed, and wakes
// waiters. A record another request already made uploaded (or made to) is
// returned as it is; one deleted meanwhile, by its owner or by the sweeper
// (which deletes only what no settle has moved, see Sweep), is ErrNotFound.
func (s *Server) settle(ctx context.Context, rec meta.File, to meta.Status, size int64, reason string) (meta.File, error) {
	from := meta.StatusPending
	for range 3 {
		f, err := s.cfg.Meta.Transition(ctx, rec.ID, meta.Update{From: from, To: to, Size: size, Reason: reason})
		if err == nil {
			s.hub.publish(rec.ID)
			return f, nil
		}
		if !errors.Is(err, meta.ErrConflict) {
			return f, err
		}
		cur, err := s.cfg.Meta.Get(ctx, rec.Tenant, rec.ID)
		if err != nil {
			return cur, err
		}
		if cur.Status == meta.StatusUploaded || cur.Status == to {
			return cur, nil
		}
		from = cur.Status
	}
	return rec, meta.ErrConflict
}

// removeContent deletes whatever content and staged uploads f had.
func (s *Server) removeContent(ctx context.Context, f meta.File) error {
	err := s.cfg.Blobs.Delete(ctx, contentKey(f.Tenant, f.SourceHash, f.ID))
	if s.presign != nil {
		lerr := s.cfg.Blobs.List(ctx, stagingDir(f.Tenant, f.ID), func(i blobInfo) error {
			return s.cfg.Blobs.Delete(ctx, i.Key)
		})
		err = errors.Join(err, lerr)
	}
	return errors.Join(err, s.removeMultipart(ctx, f))
}
