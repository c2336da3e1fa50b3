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
	hash, e := checkCreate(req)
	if e != nil {
		writeError(w, e)
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
	ans, err := s.createAnswer(r, rec, time.Now().Add(s.cfg.UploadURLTTL))
	if err != nil {
		s.fail(w, r, "presign", err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, ans)
}

// checkCreate checks a create's name and sourceHash, and returns the hash
// in lower case.
func checkCreate(req createRequest) (string, *Error) {
	if e := checkName(req.Name); e != nil {
		return "", e
	}
	if req.SourceHash == nil {
		return "", ErrInvalidHash.With("sourceHash is missing; %s", ErrInvalidHash.Message)
	}
	hash, ok := ingest.CheckHash(*req.SourceHash)
	if !ok {
		return "", ErrInvalidHash
	}
	return hash, nil
}

// createAnswer is the answer to a create of rec, pending: the record and
// where to PUT its bytes until exp.
func (s *Server) createAnswer(r *http.Request, rec meta.File, exp time.Time) (createResponse, error) {
	u, direct, err := s.core.DirectURL(r.Context(), rec, time.Until(exp))
	if err != nil {
		return createResponse{}, err
	}
	if !direct {
		u = s.baseURL(r) + "/upload/" + rec.ID + "?" + s.sign.UploadQuery(rec.Tenant, rec.ID, rec.SourceHash, exp)
	}
	return createResponse{File: toFile(rec), UploadURL: u,
		UploadExpiresAt: exp.UTC().Format(TimeFormat), MaxFileSize: s.core.Limits().MaxFileSize}, nil
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
