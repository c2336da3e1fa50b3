package server

// Multipart uploads: large files in parts, several at once, resumable.
//
// These endpoints sit beside the v0 contract; a client that knows nothing of
// them keeps creating a file and PUTting all its bytes to uploadUrl. A client
// that knows them does, for one file record it created:
//
//	GET  /api/v0/limits
//	     → {maxFileSize, minPartSize, maxPartSize, maxParts, uploadUrlTtlSeconds,
//	        multipart: true, partChecksum: "sha256"}
//	POST /api/v0/file/multipart                           {"size": S, "partSize": P}
//	     → 201 an open upload: of a new file whose hash is not known yet, for a
//	       fileId chosen now (409 hash_first if the caller has an uploaded file
//	       of that size); then parts as below, and complete with
//	       {"name": N, "sha256": H, "parts": […]}, which records the file
//	POST /api/v0/file/{id}/multipart                      {"size": S, "partSize": P}
//	     → 201 a new upload, or 200 the unfinished one with the same size and
//	       partSize (resume):
//	       {uploadId, fileId, size, partSize, partCount,
//	        parts: [{partNumber, size, sha256, etag}…]}   parts already stored
//	GET  /api/v0/file/{id}/multipart                      → the newest unfinished upload, as above
//	POST /api/v0/file/{id}/multipart/{uploadId}/parts     {"parts": [{partNumber, sha256}…]} (≤ 100)
//	     → {parts: [{partNumber, url, size, headers, expiresAt}…]}
//	PUT  <url> with exactly size bytes and the headers    → 2xx; the part's SHA-256 comes back
//	       in the x-amz-checksum-sha256 header (S3) or as {partNumber, size, sha256} (this server)
//	POST /api/v0/file/{id}/multipart/{uploadId}/complete  {"parts": [{partNumber, sha256}…]} (optional)
//	     → 200 File uploaded | 202 File pending (still verifying) | 422 hash_mismatch (failed)
//	DELETE /api/v0/file/{id}/multipart/{uploadId}         → 204, parts discarded
//
// The uploadId, the plan it carries, how parts are kept on each store and
// how completing verifies them are the ingest core's (internal/ingest,
// multipart.go); these handlers decode, call it and encode.

import (
	"net/http"
	"strconv"
	"time"

	"github.com/perseus-go/perseus/internal/ingest"
	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

type multipartRequest struct {
	Size     *int64 `json:"size"`
	PartSize *int64 `json:"partSize"`
}

type multipartResponse struct {
	UploadID  string     `json:"uploadId"`
	FileID    string     `json:"fileId"`
	Size      int64      `json:"size"`
	PartSize  int64      `json:"partSize"`
	PartCount int        `json:"partCount"`
	Parts     []partInfo `json:"parts"`
	// ChainedParts: whether this upload takes chained parts (see
	// ingest.Upload), which may differ from /api/v0/limits while replicas
	// differ in --s3-parts.
	ChainedParts bool `json:"chainedParts"`
}

type partInfo struct {
	PartNumber int    `json:"partNumber"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256,omitempty"`
	From       string `json:"from,omitempty"`
	ETag       string `json:"etag,omitempty"`
}

func toPartInfo(p blob.Part) partInfo {
	return partInfo{PartNumber: p.Number, Size: p.Size, SHA256: p.SHA256, From: p.From, ETag: p.ETag}
}

type partsRequest struct {
	Parts []partRef `json:"parts"`
}

// completeRequest completes an upload; name and sha256 complete an open
// one (POST /api/v0/file/multipart), whose file is recorded then.
type completeRequest struct {
	Parts  []partRef `json:"parts"`
	Name   *string   `json:"name"`
	SHA256 *string   `json:"sha256"`
}

// partRef names a part: by its own SHA-256, or when chained by the whole's
// SHA-256 chaining value before it (From) and after it (SHA256; for the
// last part, the SHA-256 of the whole).
type partRef struct {
	PartNumber int    `json:"partNumber"`
	SHA256     string `json:"sha256"`
	From       string `json:"from,omitempty"`
}

func toRefs(in []partRef) []ingest.PartRef {
	out := make([]ingest.PartRef, len(in))
	for i, r := range in {
		out[i] = ingest.PartRef{Number: r.PartNumber, SHA256: r.SHA256, From: r.From}
	}
	return out
}

type partURL struct {
	PartNumber int               `json:"partNumber"`
	URL        string            `json:"url"`
	Size       int64             `json:"size"`
	Headers    map[string]string `json:"headers"`
	ExpiresAt  string            `json:"expiresAt"`
}

func writeUpload(w http.ResponseWriter, status int, u ingest.Upload) {
	res := multipartResponse{UploadID: u.ID, FileID: u.FileID, Size: u.Size, PartSize: u.PartSize,
		PartCount: u.PartCount, Parts: make([]partInfo, len(u.Parts)), ChainedParts: u.ChainedParts}
	for i, p := range u.Parts {
		res.Parts[i] = toPartInfo(p)
	}
	writeJSON(w, status, res)
}

// decodePlan reads a multipart plan, {"size": S, "partSize": P}, both
// required; on false it has answered.
func decodePlan(w http.ResponseWriter, r *http.Request) (size, partSize int64, ok bool) {
	var req multipartRequest
	if e := decode(w, r, &req); e != nil {
		writeError(w, e)
		return 0, 0, false
	}
	if req.Size == nil || req.PartSize == nil {
		writeError(w, ErrInvalidPartSize.With("size and partSize are required: %s", ErrInvalidPartSize.Message))
		return 0, 0, false
	}
	return *req.Size, *req.PartSize, true
}

func (s *Server) handleMultipartStart(w http.ResponseWriter, r *http.Request) {
	size, partSize, ok := decodePlan(w, r)
	if !ok {
		return
	}
	u, created, err := s.core.StartMultipart(r.Context(), tenantOf(r), r.PathValue("id"), size, partSize)
	if err != nil {
		s.fail(w, r, "multipart start", err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeUpload(w, status, u)
}

// handleMultipartOpen begins an open upload: parts of a new file sent
// before its hash is known (ingest.Core.OpenMultipart).
func (s *Server) handleMultipartOpen(w http.ResponseWriter, r *http.Request) {
	size, partSize, ok := decodePlan(w, r)
	if !ok {
		return
	}
	u, err := s.core.OpenMultipart(r.Context(), tenantOf(r), size, partSize)
	if err != nil {
		s.fail(w, r, "multipart open", err)
		return
	}
	writeUpload(w, http.StatusCreated, u)
}

func (s *Server) handleMultipartGet(w http.ResponseWriter, r *http.Request) {
	u, err := s.core.NewestMultipart(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, "multipart get", err)
		return
	}
	writeUpload(w, http.StatusOK, u)
}

func (s *Server) handlePartURLs(w http.ResponseWriter, r *http.Request) {
	var req partsRequest
	if e := decode(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	exp := time.Now().Add(s.cfg.UploadURLTTL)
	upload := r.PathValue("upload")
	rec, targets, err := s.core.PartTargets(r.Context(), tenantOf(r), r.PathValue("id"), upload, toRefs(req.Parts), exp)
	if err != nil {
		s.fail(w, r, "multipart", err)
		return
	}
	out := make([]partURL, len(targets))
	for i, t := range targets {
		p := t.Part
		if t.URL == "" { // through this server, at a URL signed over everything the part must be
			c := sign.Part{Tenant: rec.Tenant, Hash: rec.SourceHash, Upload: upload, Number: p.Number, Size: p.Size, SHA256: p.SHA256, From: p.From}
			t.URL = s.baseURL(r) + "/upload/" + rec.ID + "/parts/" + strconv.Itoa(p.Number) + "?" + s.sign.PartQuery(rec.ID, c, exp)
		}
		out[i] = partURL{PartNumber: p.Number, URL: t.URL, Size: p.Size, Headers: t.Header, ExpiresAt: exp.UTC().Format(TimeFormat)}
	}
	writeJSON(w, http.StatusOK, map[string][]partURL{"parts": out})
}

// handlePartUpload receives one part of a multipart upload through this
// server, at a URL signed for its exact length and SHA-256.
func (s *Server) handlePartUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := s.sign.CheckPart(id, r.PathValue("n"), r.URL.Query(), time.Now())
	if err != nil {
		s.fail(w, r, "upload part", err)
		return
	}
	p := blob.Part{Number: c.Number, Size: c.Size, SHA256: c.SHA256, From: c.From}
	p, err = s.core.ReceivePart(r.Context(), c.Tenant, id, c.Hash, c.Upload, p, r.Body, r.ContentLength)
	if err != nil {
		s.fail(w, r, "upload part", err)
		return
	}
	w.Header().Set("ETag", `"`+p.SHA256+`"`)
	writeJSON(w, http.StatusOK, toPartInfo(p))
}

func (s *Server) handleMultipartComplete(w http.ResponseWriter, r *http.Request) {
	var req completeRequest
	if r.ContentLength != 0 {
		if e := decode(w, r, &req); e != nil {
			writeError(w, e)
			return
		}
	}
	var f meta.File
	var err error
	if req.Name != nil || req.SHA256 != nil { // an open upload's: its file is recorded now
		if e := checkName(req.Name); e != nil {
			writeError(w, e)
			return
		}
		if req.SHA256 == nil {
			writeError(w, ErrInvalidHash.With("sha256 is missing: complete an open upload with the name and the SHA-256 of the whole file"))
			return
		}
		f, _, err = s.core.CompleteOpen(r.Context(), tenantOf(r), r.PathValue("id"), r.PathValue("upload"), *req.Name, *req.SHA256, toRefs(req.Parts))
	} else {
		f, err = s.core.CompleteMultipart(r.Context(), tenantOf(r), r.PathValue("id"), r.PathValue("upload"), toRefs(req.Parts))
	}
	if err != nil {
		s.fail(w, r, "complete", err)
		return
	}
	// 200 uploaded, 202 still being verified, 422 failed.
	switch f.Status {
	case meta.StatusUploaded:
		writeJSON(w, http.StatusOK, toFile(f))
	case meta.StatusFailed:
		writeError(w, ErrHashMismatch.With("the file failed: %s", f.Reason))
	default:
		writeJSON(w, http.StatusAccepted, toFile(f))
	}
}

func (s *Server) handleMultipartAbort(w http.ResponseWriter, r *http.Request) {
	if err := s.core.AbortMultipart(r.Context(), tenantOf(r), r.PathValue("id"), r.PathValue("upload")); err != nil {
		s.fail(w, r, "multipart abort", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
