package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// into the store while hashed; only a part that matches is committed.
func (s *Server) handlePartUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, e := s.sign.checkPart(id, r.PathValue("n"), r.URL.Query(), time.Now())
	if e != nil {
		writeError(w, e)
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
	key := partKey(c.tenant, id, c.upload, c.part, c.sha256)
	bw, err := s.cfg.Blobs.Create(r.Context(), key)
	if err != nil {
		s.storeError(w, r, "upload part", err)
		return
	}
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(io.MultiWriter(bw, h), http.MaxBytesReader(w, r.Body, c.size), *buf)
	copyBufs.Put(buf)
	var maxErr *http.MaxBytesError
	switch got := hex.EncodeToString(h.Sum(nil)); {
	case errors.As(err, &maxErr):
		e = ErrTooLarge.With("part %d is more than the %d bytes its URL is for; nothing was kept", c.part, c.size)
	case err != nil || n != c.size:
		e = ErrIncomplete.With("part %d: received %d of its %d bytes (%v); nothing was kept, send it again", c.part, n, c.size, err)
	case got != c.sha256:
		e = ErrPartMismatch.With("part %d hashes to %s, not to the sha256 %s its URL was issued for; nothing was kept", c.part, got, c.sha256)
	}
	if e != nil {
		bw.Abort()
		writeError(w, e)
		return
	}
	if err := bw.Commit(r.Context()); err != nil {
		s.storeError(w, r, "store part", err)
		return
	}
	// A part sent again with other bytes replaces the one it had.
	dir := partsDir(c.tenant, id) + c.upload + "/"
	prefix := dir + partName(c.part, "")
	s.cfg.Blobs.List(r.Context(), prefix, func(i blob.Info) error {
		if i.Key != key {
			s.cfg.Blobs.Delete(r.Context(), i.Key)
		}
		return nil
	})
	w.Header().Set("ETag", `"`+c.sha256+`"`)
	writeJSON(w, http.StatusOK, partInfo{PartNumber: c.part, Size: n, SHA256: c.sha256})
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
	tok, ok := parseToken(r.PathValue("upload"))
	if !ok {
		writeError(w, ErrUploadNotFound)
		return
	}
	lock := "complete/" + rec.ID
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
	writeOutcome(w, f)
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
		if p.settling(ctx, rec, tok) { // completed already; its verification goes on
			f, err := s.awaitFinal(ctx, rec, 30*time.Second)
			if err != nil {
				return rec, ErrUnavailable
			}
			return f, nil
		}
		return rec, ErrUploadNotFound
	}
	want := map[int]string{}
	if len(listed) > 0 {
		refs, e := checkRefs(listed, tok)
		if e != nil {
			return rec, e
		}
		for _, ref := range refs {
			want[ref.PartNumber] = ref.SHA256
		}
	}
	stored, err := p.parts(ctx, rec, sess)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "list parts", "id", rec.ID, "err", err)
		return rec, ErrUnavailable
	}
	chosen := make([]blob.Part, tok.count())
	for _, sp := range stored {
		n := sp.Number
		if n < 1 || n > len(chosen) || sp.Size != tok.partLen(n) || (want[n] != "" && sp.SHA256 != want[n]) {
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
		if len(missing) > 20 {
			missing = append(missing[:20], "…")
		}
		return rec, ErrPartsMissing.With("%d of %d parts are not stored as listed (parts %s); upload them and complete again",
			len(missing), len(chosen), strings.Join(missing, ", "))
	}
	f, e := p.complete(ctx, rec, sess, chosen)
	if e == nil && f.Status == meta.StatusUploaded {
		s.removeMultipart(ctx, f) // other unfinished uploads of the file, now useless
	}
	return f, e
}

// assemble concatenates parts, stored through this server, into rec's
// content while hashing them. Only content that hashes to the sourceHash is
// committed and makes the record uploaded; otherwise the record fails and
// the parts go.
func (s *Server) assemble(ctx context.Context, rec meta.File, tok uploadToken, parts []blob.Part) (meta.File, *Error) {
	dst := contentKey(rec.Tenant, rec.SourceHash, rec.ID)
	bw, err := s.cfg.Blobs.Create(ctx, dst)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "blob create", "id", rec.ID, "err", err)
		return rec, ErrUnavailable
	}
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	var n int64
	for _, p := range parts {
		r, err := s.cfg.Blobs.Open(ctx, partKey(rec.Tenant, rec.ID, tok.String(), p.Number, p.SHA256), 0)
		if err == nil {
			var c int64
			c, err = io.CopyBuffer(io.MultiWriter(bw, h), r, *buf)
			r.Close()
			n += c
		}
		if err != nil {
			bw.Abort()
			s.cfg.Logger.ErrorContext(ctx, "assemble parts", "id", rec.ID, "part", p.Number, "err", err)
			return rec, ErrUnavailable.With("could not read part %d back: a storage backend is unavailable; complete again later", p.Number)
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != rec.SourceHash || n != tok.size {
		bw.Abort()
		reason := fmt.Sprintf("the %d bytes of the parts hash to %s, not to the declared sourceHash", n, got)
		f, err := s.settle(ctx, rec, meta.StatusFailed, 0, reason)
		if err != nil {
			s.cfg.Logger.ErrorContext(ctx, "mark failed", "id", rec.ID, "err", err)
		}
		s.removeMultipart(ctx, rec)
		if f.Status == meta.StatusUploaded { // another upload got there first
			return f, nil
		}
		return rec, ErrHashMismatch.With("%s; the file is marked failed and the parts were discarded", reason)
	}
	if err := bw.Commit(ctx); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "blob commit", "id", rec.ID, "err", err)
		return rec, ErrUnavailable.With("could not store the content durably; complete again later")
	}
	f, err := s.settle(ctx, rec, meta.StatusUploaded, n, "")
	switch {
	case errors.Is(err, meta.ErrNotFound):
		s.cfg.Blobs.Delete(ctx, dst)
		s.removeMultipart(ctx, rec)
		return rec, ErrFileGone
	case err != nil:
		s.cfg.Logger.ErrorContext(ctx, "mark uploaded", "id", rec.ID, "err", err)
		return rec, ErrUnavailable
	}
	return f, nil
}

// removeMultipart discards every unfinished multipart upload of f.
func (s *Server) removeMultipart(ctx context.Context, f meta.File) error {
	if _, direct := s.parter().(directParts); !direct {
		return serverParts{s}.removeDir(ctx, partsDir(f.Tenant, f.ID))
	}
	p := s.parter()
	sessions, err := p.sessions(ctx, f)
	errs := []error{err}
	for _, sess := range sessions {
		errs = append(errs, p.abort(ctx, f, sess))
	}
	return errors.Join(errs...)
}
