package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/perseus-go/perseus/store/meta"
)

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if e := decode(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if e := checkName(req.Name); e != nil {
		writeError(w, e)
		return
	}
	if req.SourceHash == nil {
		writeError(w, ErrInvalidHash.With("sourceHash is missing; %s", ErrInvalidHash.Message))
		return
	}
	hash, ok := checkHash(*req.SourceHash)
	if !ok {
		writeError(w, ErrInvalidHash)
		return
	}
	tenant := tenantOf(r)
	rec, created, err := s.cfg.Meta.Claim(r.Context(), meta.File{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Name: *req.Name, SourceHash: hash,
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	})
	if err != nil {
		s.storeError(w, r, "create", err)
		return
	}
	if rec.Status == meta.StatusUploaded {
		writeJSON(w, ErrFileExists.Status, conflictResponse{ErrFileExists, toFile(rec)})
		return
	}
	exp := time.Now().Add(s.cfg.UploadURLTTL)
	u, err := s.uploadURL(r, rec, exp)
	if err != nil {
		s.storeError(w, r, "presign", err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, createResponse{File: toFile(rec), UploadURL: u,
		UploadExpiresAt: exp.UTC().Format(TimeFormat), MaxFileSize: s.cfg.MaxFileSize})
}

// uploadURL returns where the client PUTs rec's content: the blob store
// itself when it presigns, this server otherwise.
func (s *Server) uploadURL(r *http.Request, rec meta.File, exp time.Time) (string, error) {
	if s.presign != nil {
		key := stagingDir(rec.Tenant, rec.ID) + uuid.NewString()
		return s.presign.PresignPut(r.Context(), key, time.Until(exp))
	}
	return s.baseURL(r) + "/upload/" + rec.ID + "?" + s.sign.query(rec.Tenant, rec.ID, rec.SourceHash, exp), nil
}

func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) handleFind(w http.ResponseWriter, r *http.Request) {
	var req findRequest
	if e := decode(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if n := len(req.IDs) + len(req.SourceHashes); n > s.cfg.MaxFindValues {
		writeError(w, ErrTooMany.With("%d ids and sourceHashes in one find; at most %d are allowed, split the request", n, s.cfg.MaxFindValues))
		return
	}
	hashes := make([]string, 0, len(req.SourceHashes))
	for _, h := range req.SourceHashes {
		if lh, ok := checkHash(h); ok {
			hashes = append(hashes, lh)
		} // anything else cannot match: the contract says unknown values are simply not matched
	}
	files, err := s.cfg.Meta.Find(r.Context(), tenantOf(r), req.IDs, hashes)
	if err != nil {
		s.storeError(w, r, "find", err)
		return
	}
	writeJSON(w, http.StatusOK, findResponse{Files: toFiles(files)})
}

// handleGet answers one file; with ?wait=D it holds the request until the
// status is final or D has passed (a long poll).
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	wait, e := parseWait(r.URL.Query().Get("wait"))
	if e != nil {
		writeError(w, e)
		return
	}
	tenant, id := tenantOf(r), r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	for {
		ch := s.hub.subscribe(id)
		f, err := s.cfg.Meta.Get(r.Context(), tenant, id)
		if err != nil {
			s.hub.unsubscribe(id, ch)
			if errors.Is(err, meta.ErrNotFound) {
				writeError(w, ErrFileNotFound)
			} else {
				s.storeError(w, r, "get", err)
			}
			return
		}
		if f.Status.Final() || ctx.Err() != nil {
			s.hub.unsubscribe(id, ch)
			writeJSON(w, http.StatusOK, toFile(f))
			return
		}
		// Changes here wake ch, and so do other replicas' through a store
		// that can watch (PostgreSQL's NOTIFY); look again now and then
		// in case a wake-up was missed.
		t := time.NewTimer(time.Second)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		s.hub.unsubscribe(id, ch)
	}
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	f, err := s.cfg.Meta.Delete(r.Context(), tenantOf(r), r.PathValue("id"))
	if errors.Is(err, meta.ErrNotFound) {
		writeError(w, ErrFileNotFound)
		return
	}
	if err != nil {
		s.storeError(w, r, "delete", err)
		return
	}
	s.hub.publish(f.ID)
	// The record is gone, so nothing refers to its content any more.
	ctx := context.WithoutCancel(r.Context())
	if err := s.removeContent(ctx, f); err != nil {
		s.cfg.Logger.Warn("content left for the sweeper", "id", f.ID, "err", err)
	}
	w.WriteHeader(http.StatusNoContent)
}
