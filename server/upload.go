package server

import (
	"net/http"
	"time"
)

// handleUpload receives the content of a file through a URL this server
// signed (the v0 contract's PUT, on a store without direct uploads).
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	tenant, hash, err := s.sign.CheckUpload(id, r.URL.Query(), time.Now())
	if err != nil {
		s.fail(w, r, "upload", err)
		return
	}
	f, err := s.core.Receive(r.Context(), tenant, id, hash, r.Body, r.ContentLength)
	if err != nil {
		s.fail(w, r, "upload", err)
		return
	}
	writeJSON(w, http.StatusOK, toFile(f))
}

// streamResponse answers POST /api/v0/file/stream: the file, and whether it
// is one the caller had already.
type streamResponse struct {
	File     File `json:"file"`
	Existing bool `json:"existing"`
}

// handleStream takes a new file's bytes before their hash, an extension
// beside the v0 contract (Limits.StreamMaxSize; see ingest.Core.Stream). It
// answers 409 hash_first before it reads the body when the caller may have
// the content already, so that a client sending Expect: 100-continue sends
// nothing and goes the contract's way instead.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if e := checkName(&name); e != nil {
		writeError(w, e)
		return
	}
	f, existing, err := s.core.Stream(r.Context(), tenantOf(r), name, r.Body, r.ContentLength)
	if err != nil {
		s.fail(w, r, "stream", err)
		return
	}
	status := http.StatusOK
	if !existing {
		status = http.StatusCreated
	}
	writeJSON(w, status, streamResponse{File: toFile(f), Existing: existing})
}
