package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// handlePartUpload receives one part of a multipart upload through this
// server, at a URL signed for its exact length and SHA-256. The bytes stream
// into the store, which hashes them and keeps the part only if it matches.
func (s *Server) handlePartUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, e := s.sign.checkPart(id, r.PathValue("n"), r.URL.Query(), time.Now())
	if e != nil {
		writeError(w, e)
		return
	}
	recv, okRecv := s.parter().(partReceiver)
	if !okRecv || (c.from != "" && !s.chainedParts()) { // signed by this server, for a store it no longer has
		writeError(w, ErrURLInvalid)
		return
	}
	rec, err := s.cfg.Meta.Get(r.Context(), c.tenant, id)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		writeError(w, ErrFileGone)
		return
	case err != nil:
		s.storeError(w, r, "upload part", err)
		return
	case rec.SourceHash != c.hash:
		writeError(w, ErrURLInvalid)
		return
	case rec.Status == meta.StatusUploaded:
		writeError(w, ErrAlreadyDone)
		return
	case r.ContentLength > c.size:
		writeError(w, ErrTooLarge.With("part %d is %d bytes; its URL is for exactly %d", c.part, r.ContentLength, c.size))
		return
	}
	tok, e := s.tokenFor(rec, c.upload)
	if e != nil {
		writeError(w, e)
		return
	}
	if s.completing(completeLock(rec)) { // the store refuses it too, once sealed
		writeError(w, ErrCompleting)
		return
	}
	bw, err := recv.createPart(r.Context(), rec, tok, blob.Part{Number: c.part, Size: c.size, SHA256: c.sha256, From: c.from})
	if err != nil {
		s.storeError(w, r, "upload part", err)
		return
	}
	body := &readErr{r: http.MaxBytesReader(w, r.Body, c.size)}
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(bw, body, *buf)
	copyBufs.Put(buf)
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(body.err, &maxErr):
		e = ErrTooLarge.With("part %d is more than the %d bytes its URL is for; nothing was kept", c.part, c.size)
	case body.err != nil || (err == nil && n != c.size):
		e = ErrIncomplete.With("part %d: received %d of its %d bytes (%v); nothing was kept, send it again", c.part, n, c.size, body.err)
	case err != nil:
		bw.Abort()
		s.storeError(w, r, "store part", err)
		return
	}
	if e != nil {
		bw.Abort()
		writeError(w, e)
		return
	}
	if err := bw.Commit(r.Context()); errors.Is(err, blob.ErrPartMismatch) {
		writeError(w, ErrPartMismatch.With("part %d does not hash to the sha256 %s its URL was issued for; nothing was kept", c.part, c.sha256))
		return
	} else if err != nil {
		s.storeError(w, r, "store part", err)
		return
	}
	w.Header().Set("ETag", `"`+c.sha256+`"`)
	writeJSON(w, http.StatusOK, partInfo{PartNumber: c.part, Size: n, SHA256: c.sha256, From: c.from})
}

// readErr remembers the error of the reader it wraps, so that a copy can
// tell a cut-off body from a store that failed.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func (s *Server) handleMultipartComplete(w http.ResponseWriter, r *http.Request) {
	var req partsRequest
	if r.ContentLength != 0 {
		if e := decode(w, r, &req); e != nil {
			writeError(w, e)
			return
		}
	}
	rec, ok := s.fileFor(w, r)
	if !ok {
		return
	}
	// Completing runs to its end even if the client goes away, so that a
	// client that retries finds the verdict instead of starting over.
	ctx := context.WithoutCancel(r.Context())
	if rec.Status == meta.StatusUploaded {
		s.removeMultipart(ctx, rec)
		writeOutcome(w, rec)
		return
	}
	tok, e := s.tokenFor(rec, r.PathValue("upload"))
	if e != nil {
		writeError(w, e)
		return
	}
	lock := completeLock(rec)
	if !s.claimVerify(lock) { // this upload is being completed: wait for the verdict
		f, err := s.awaitFinal(r.Context(), rec, 30*time.Second)
		if err != nil {
			s.storeError(w, r, "complete", err)
			return
		}
		writeOutcome(w, f)
		return
	}
	defer s.releaseVerify(lock)
	f, e := s.completeUpload(ctx, rec, tok, req.Parts)
	if e != nil {
		writeError(w, e)
		return
	}
	if f.Status == meta.StatusUploaded {
		s.removeMultipart(ctx, f) // other unfinished uploads of the file, now useless
	}
	writeOutcome(w, f)
}

// uploadGone answers for an upload that is no longer there: completed
// already (its verdict, or the verification of the content it left), or
// aborted because another upload of the file completed (the file,
// uploaded), or never known.
func (s *Server) uploadGone(ctx context.Context, rec meta.File) (meta.File, *Error) {
	if f, e, ok := s.recoverContent(ctx, rec); ok {
		return f, e
	}
	if s.fileGone(ctx, rec) {
		return rec, ErrFileGone
	}
	return rec, ErrUploadNotFound
}

// fileGone reports whether rec was deleted meanwhile.
func (s *Server) fileGone(ctx context.Context, rec meta.File) bool {
	_, err := s.cfg.Meta.Get(ctx, rec.Tenant, rec.ID)
	return errors.Is(err, meta.ErrNotFound)
}

// completeUpload checks that every part of upload tok is stored (and, for
// the parts the client listed, with the SHA-256 it listed), then completes it.
func (s *Server) completeUpload(ctx context.Context, rec meta.File, tok uploadToken, listed []partRef) (meta.File, *Error) {
	p := s.parter()
	sess, found, err := p.session(ctx, rec, tok)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "find multipart upload", "id", rec.ID, "err", err)
		return rec, ErrUnavailable
	}
	if !found {
		return s.uploadGone(ctx, rec)
	}
	want := map[int]partRef{}
	if len(listed) > 0 {
		refs, e := checkRefs(listed, tok, s.chainedParts())
		if e != nil {
			return rec, e
		}
		for _, ref := range refs {
			want[ref.PartNumber] = ref
		}
	}
	stored, err := p.parts(ctx, rec, sess)
	if errors.Is(err, blob.ErrNotFound) {
		return s.uploadGone(ctx, rec)
	}
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "list parts", "id", rec.ID, "err", err)
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
	for i, c := range chosen {
		if c.Number == 0 {
			missing = append(missing, fmt.Sprint(i+1))
		}
	}
	if len(missing) > 0 {
		if f, e, ok := s.recoverContent(ctx, rec); ok { // completed already, its verdict lost
			return f, e
		}
		if s.fileGone(ctx, rec) { // and its uploads with it
			return rec, ErrFileGone
		}
		if len(missing) > 20 {
			missing = append(missing[:20], "…")
		}
		return rec, ErrPartsMissing.With("%d of %d parts are not stored as listed (parts %s); upload them and complete again",
			len(missing), len(chosen), strings.Join(missing, ", "))
	}
	return p.complete(ctx, rec, sess, chosen)
}

// removeMultipart discards every unfinished multipart upload of f.
func (s *Server) removeMultipart(ctx context.Context, f meta.File) error {
	return s.parter().removeAll(ctx, f)
}

// awaitFinal returns rec's record once its status is final, or as it is
// after d.
func (s *Server) awaitFinal(ctx context.Context, rec meta.File, d time.Duration) (meta.File, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		ch := s.hub.subscribe(rec.ID)
		f, err := s.cfg.Meta.Get(context.WithoutCancel(ctx), rec.Tenant, rec.ID)
		if err != nil || f.Status.Final() || ctx.Err() != nil {
			s.hub.unsubscribe(rec.ID, ch)
			return f, err
		}
		t := time.NewTimer(100 * time.Millisecond) // another replica may settle it
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		s.hub.unsubscribe(rec.ID, ch)
	}
}

// writeOutcome answers a completed upload with its record: 200 uploaded,
// 202 still being verified, 422 failed.
func writeOutcome(w http.ResponseWriter, f meta.File) {
	switch f.Status {
	case meta.StatusUploaded:
		writeJSON(w, http.StatusOK, toFile(f))
	case meta.StatusFailed:
		writeError(w, ErrHashMismatch.With("the file failed: %s", f.Reason))
	default:
		writeJSON(w, http.StatusAccepted, toFile(f))
	}
}
