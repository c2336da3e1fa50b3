package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// touch marks rec as still being uploaded: the sweeper removes pending
// records whose updated_at is older than PendingTTL, and a multipart upload
// may last longer. It answers and returns false if it cannot.
func (s *Server) touch(w http.ResponseWriter, r *http.Request, rec meta.File) bool {
	if rec.Status != meta.StatusPending {
		return true
	}
	_, err := s.cfg.Meta.Transition(r.Context(), rec.ID,
		meta.Update{From: meta.StatusPending, To: meta.StatusPending, Size: rec.Size, Reason: rec.Reason})
	switch {
	case err == nil, errors.Is(err, meta.ErrConflict): // settled meanwhile: nothing to keep alive
		return true
	case errors.Is(err, meta.ErrNotFound):
		writeError(w, ErrFileNotFound)
	default:
		s.storeError(w, r, "multipart", err)
	}
	return false
}

// completeLock is the name under which a record's multipart uploads are
// completed (claimVerify); abort and part writes respect it.
func completeLock(rec meta.File) string { return "complete/" + rec.ID }

// errCompleting says that a complete held the record too long.
var errCompleting = errors.New("the file is still being completed")

// awaitClaim claims lock, waiting while another holds it, for at most 30 s.
func (s *Server) awaitClaim(ctx context.Context, lock string) bool {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for !s.claimVerify(lock) {
		select {
		case <-ctx.Done():
			return false
		case now := <-t.C:
			if now.After(deadline) {
				return false
			}
		}
	}
	return true
}

// completing reports whether lock is held: a complete is under way here.
func (s *Server) completing(lock string) bool {
	s.verify.Lock()
	defer s.verify.Unlock()
	return s.verifying[lock]
}
