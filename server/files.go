package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/perseus-go/perseus/internal/ingest"
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
	hash, ok := ingest.CheckHash(*req.SourceHash)
	if !ok {
		writeError(w, ErrInvalidHash)
		return
	}
	rec, created, err := s.core.Create(r.Context(), tenantOf(r), *req.Name, hash)
	if err != nil {
		s.fail(w, r, "create", err)
		return
	}
	if rec.Status == meta.StatusUploaded {
		writeJSON(w, ErrFileExists.Status, conflictResponse{ErrFileExists, toFile(rec)})
		return
	}
	exp := time.Now().Add(s.cfg.UploadURLTTL)
	u, direct, err := s.core.DirectURL(r.Context(), rec, time.Until(exp))
	if err != nil {
		s.fail(w, r, "presign", err)
		return
	}
	if !direct {
		u = s.baseURL(r) + "/upload/" + rec.ID + "?" + s.sign.UploadQuery(rec.Tenant, rec.ID, rec.SourceHash, exp)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, createResponse{File: toFile(rec), UploadURL: u,
		UploadExpiresAt: exp.UTC().Format(TimeFormat), MaxFileSize: s.core.Limits().MaxFileSize})
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
		if lh, ok := ingest.CheckHash(h); ok {
			hashes = append(hashes, lh)
		} // anything else cannot match: the contract says unknown values are simply not matched
	}
	files, err := s.core.Find(r.Context(), tenantOf(r), req.IDs, hashes)
	if err != nil {
		s.fail(w, r, "find", err)
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
	f, err := s.core.Await(r.Context(), tenantOf(r), r.PathValue("id"), wait)
	if err != nil {
		s.fail(w, r, "get", err)
		return
	}
	writeJSON(w, http.StatusOK, toFile(f))
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	if _, err := s.core.Delete(r.Context(), tenantOf(r), r.PathValue("id")); err != nil {
		s.fail(w, r, "delete", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
