package server

import (
	"context"
	"net/http"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// streamResponse answers POST /api/v0/file/stream: the file, and whether it
// is one the caller had already (the bytes sent were then discarded).
type streamResponse struct {
	File     File `json:"file"`
	Existing bool `json:"existing"`
}

// handleStream takes a new file's bytes before its hash, an extension
// beside the v0 contract (Limits.StreamMaxSize): the bytes are hashed on
// their way into the store, and the file is recorded under the hash they
// turned out to have, so that a client need not read the file twice, once
// to hash it and once to send it.
//
// It is for content the caller does not have: if the caller has an
// uploaded file of the same size, it answers 409 hash_first before it
// reads the body, so that a client sending Expect: 100-continue sends
// nothing and goes the contract's way (hash, create) instead, which never
// sends content the server has. Content that turns out to be there all the
// same (another upload of it finished meanwhile) is discarded, and the file
// that has it is the answer, with existing true.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if e := checkName(&name); e != nil {
		writeError(w, e)
		return
	}
	size := r.ContentLength
	switch {
	case size < 0:
		writeError(w, ErrLengthRequired.With("send the file with a Content-Length: this endpoint takes a file of known size, at most %d bytes (streamMaxSize)", s.streamMax()))
		return
	case size > s.streamMax():
		writeError(w, ErrTooLarge.With("the file is %d bytes; this endpoint takes at most %d (streamMaxSize): send it in parts instead (see /api/v0/limits)", size, s.streamMax()))
		return
	}
	ctx := r.Context()
	tenant := tenantOf(r)
	has, err := s.cfg.Meta.HasSize(ctx, tenant, size)
	if err != nil {
		s.storeError(w, r, "stream", err)
		return
	}
	if has {
		writeError(w, ErrHashFirst.With("you have an uploaded file of %d bytes, so this content may be there already: hash the file and create it (POST /api/v0/file), which sends nothing the server has", size))
		return
	}
	id := streamedID()
	key := contentKey(tenant, "", id)
	bw, sum, n, e := s.copyIn(w, r, key, id)
	if e != nil {
		writeError(w, e)
		return
	}
	// The record comes before the commit: committed bytes without a record
	// are an orphan to the sweeper. The hash is known, nothing is stored
	// yet, and content the caller has already is not stored at all.
	ctx = context.WithoutCancel(ctx) // settle what is begun, even if the client goes
	rec, created, err := s.cfg.Meta.Claim(ctx, meta.File{
		ID: id, Tenant: tenant, Name: name, SourceHash: sum,
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	})
	switch {
	case err != nil:
		bw.Abort()
		s.storeError(w, r, "stream", err)
		return
	case !created && rec.Status == meta.StatusUploaded:
		bw.Abort()
		writeJSON(w, http.StatusOK, streamResponse{File: toFile(rec), Existing: true})
		return
	}
	if e := s.commit(ctx, bw, id); e != nil {
		if created {
			if _, err := s.settle(ctx, rec, meta.StatusFailed, 0, "the streamed bytes could not be stored"); err != nil {
				s.cfg.Logger.ErrorContext(ctx, "mark failed", "id", id, "err", err)
			}
		}
		writeError(w, e)
		return
	}
	if created {
		f, e := s.settleUploaded(ctx, rec, n)
		if e != nil && e.Code == ErrFileGone.Code {
			e = ErrFileGone.With("the file was deleted while its bytes were being stored; nothing was kept")
		}
		if e != nil {
			writeError(w, e)
			return
		}
		writeJSON(w, http.StatusCreated, streamResponse{File: toFile(f)})
		return
	}
	// A pending record of this content (Claim made a failed one pending
	// again) gets these bytes.
	defer s.cfg.Blobs.Delete(ctx, key)
	f, e := s.adopt(ctx, rec, key, n)
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, streamResponse{File: toFile(f), Existing: true})
}

// adopt gives rec the n verified bytes stored under src: they are copied to
// its content key (within the store where it can copy) and rec is settled.
func (s *Server) adopt(ctx context.Context, rec meta.File, src string, n int64) (meta.File, *Error) {
	if err := s.copyObject(ctx, src, contentKey(rec.Tenant, rec.SourceHash, rec.ID)); err != nil {
		s.obs.blobError("copy")
		s.cfg.Logger.ErrorContext(ctx, "copy streamed content to an existing record", "id", rec.ID, "err", err)
		return rec, ErrUnavailable.With("could not store the bytes; nothing was kept, send them again")
	}
	return s.settleUploaded(ctx, rec, n)
}
