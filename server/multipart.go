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
// The uploadId is "<size>-<partSize>-<salt><mac>": the plan travels with it,
// so no table holds upload state; the store does. The mac is an HMAC under
// the server's signing key over tenant, file id, size, partSize and salt
// (multipart_token.go), so that no client can name an upload the server did
// not start, and every uploadId taken from a URL is checked against the
// limits (checkPlan) before its plan is used. Part n covers bytes
// [(n-1)·partSize, min(n·partSize, size)). Every part URL is bound to the
// part's exact length and to the SHA-256 the client computed from its file,
// and the store refuses other bytes, so a part that is stored is a part that
// is right; listed parts carry that SHA-256, so a resuming client checks
// them against its file before skipping them. Completing hashes the whole
// content against the record's sourceHash before the record says uploaded.
//
// Three ways to keep parts (see parter):
//
//   - S3 (the store is a blob.Multiparter): a real S3 multipart upload at the
//     record's content key itself, created with SHA-256 checksums; part URLs
//     are presigned UploadPart URLs with Content-Length and
//     x-amz-checksum-sha256 signed. Nothing is visible there until the
//     server calls CompleteMultipartUpload (clients hold only part URLs),
//     and then the uploadId is gone, so no client can write that key again:
//     no copy is needed. Complete completes it only if no object is there
//     yet (If-None-Match), reads the object back once to hash it (S3 keeps
//     no SHA-256 of a whole object), and the record says uploaded only if
//     it matches; otherwise the object is deleted if it is still the one
//     hashed (If-Match on its ETag) and the record fails. The content key
//     is never served while the record is pending (handleContent serves
//     uploaded records only). The uploadId's nonce is derived from S3's
//     upload id, and an empty marker (multipartKey) per upload names it, so
//     that uploads and their plans can be listed. A plain presigned PUT
//     (the v0 contract) still goes to a staging key, read back and copied:
//     such a URL could be replayed with other bytes.
//   - The local store (a blob.Assembler), through this server: parts are
//     PUT to this server at URLs signed over tenant, file id, sourceHash,
//     uploadId, part number, size, part SHA-256 and expiry
//     (signer.partQuery), and each is written once, straight to its offset
//     in one sparse file per upload, hashed on the way; the store
//     lists it (a durable marker) only after the bytes are fsynced and
//     match. The store hashes the whole while parts arrive; complete seals
//     the upload, has the store finish the hash, and renames the file to
//     the content key if it matches the sourceHash.
//   - Any other store, through this server: each part is an object under
//     partKey, committed only if it matches; complete concatenates them
//     into the content key while hashing.
//
// In every case only verified bytes make the file uploaded, and a mismatch
// makes it failed and leaves nothing of that upload.
//
// Unfinished uploads are removed when their file is deleted, when another
// upload of the file completes, and by SweepMultipart once stale.

import (
	"errors"
	"net/http"
	"time"

	"github.com/perseus-go/perseus/internal/sha256chain"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// maxPartURLs caps the parts of one part-URL request.
const maxPartURLs = 100

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
}

type partInfo struct {
	PartNumber int    `json:"partNumber"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256,omitempty"`
	From       string `json:"from,omitempty"`
	ETag       string `json:"etag,omitempty"`
}

type partsRequest struct {
	Parts []partRef `json:"parts"`
}

// partRef names a part: by its own SHA-256, or when chained (From set, see
// chainedParts) by the whole's SHA-256 chaining value before it (From) and
// after it (SHA256; for the last part, the SHA-256 of the whole).
type partRef struct {
	PartNumber int    `json:"partNumber"`
	SHA256     string `json:"sha256"`
	From       string `json:"from,omitempty"`
}

type partURL struct {
	PartNumber int               `json:"partNumber"`
	URL        string            `json:"url"`
	Size       int64             `json:"size"`
	Headers    map[string]string `json:"headers"`
	ExpiresAt  string            `json:"expiresAt"`
}

// fileFor returns the caller's record named by the path, or answers 404.
func (s *Server) fileFor(w http.ResponseWriter, r *http.Request) (meta.File, bool) {
	rec, err := s.cfg.Meta.Get(r.Context(), tenantOf(r), r.PathValue("id"))
	if errors.Is(err, meta.ErrNotFound) {
		writeError(w, ErrFileNotFound)
		return rec, false
	}
	if err != nil {
		s.storeError(w, r, "multipart", err)
		return rec, false
	}
	return rec, true
}

func (s *Server) handleMultipartStart(w http.ResponseWriter, r *http.Request) {
	var req multipartRequest
	if e := decode(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Size == nil || req.PartSize == nil {
		writeError(w, ErrInvalidPartSize.With("size and partSize are required: %s", ErrInvalidPartSize.Message))
		return
	}
	if e := s.checkPlan(*req.Size, *req.PartSize); e != nil {
		writeError(w, e)
		return
	}
	rec, ok := s.fileFor(w, r)
	if !ok {
		return
	}
	if rec.Status == meta.StatusUploaded {
		writeError(w, ErrAlreadyDone)
		return
	}
	p := s.parter()
	sessions, err := p.sessions(r.Context(), rec)
	if err != nil {
		s.storeError(w, r, "multipart start", err)
		return
	}
	// Resume the newest upload with the same plan; others are left to
	// finish or to be swept, since another client may be sending them.
	status := http.StatusOK
	var sess *session
	for i := range sessions {
		c := &sessions[i]
		if c.tok.size == *req.Size && c.tok.partSize == *req.PartSize && (sess == nil || c.started.After(sess.started)) {
			sess = c
		}
	}
	if sess == nil {
		started, err := p.start(r.Context(), rec, s.newToken(rec, *req.Size, *req.PartSize, ""))
		if err != nil {
			s.storeError(w, r, "multipart start", err)
			return
		}
		sess, status = &started, http.StatusCreated
	}
	if !s.touch(w, r, rec) {
		return
	}
	s.writeSession(w, r, status, rec, *sess)
}

func (s *Server) handleMultipartGet(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.fileFor(w, r)
	if !ok {
		return
	}
	sessions, err := s.parter().sessions(r.Context(), rec)
	if err != nil {
		s.storeError(w, r, "multipart get", err)
		return
	}
	if len(sessions) == 0 {
		writeError(w, ErrUploadNotFound.With("file %s has no unfinished multipart upload", rec.ID))
		return
	}
	newest := sessions[0]
	for _, c := range sessions[1:] {
		if c.started.After(newest.started) {
			newest = c
		}
	}
	s.writeSession(w, r, http.StatusOK, rec, newest)
}

// writeSession answers an upload with the parts it holds, one per number.
func (s *Server) writeSession(w http.ResponseWriter, r *http.Request, status int, rec meta.File, sess session) {
	stored, err := s.parter().parts(r.Context(), rec, sess)
	if err != nil && !errors.Is(err, blob.ErrNotFound) {
		s.storeError(w, r, "list parts", err)
		return
	}
	res := multipartResponse{UploadID: sess.tok.String(), FileID: rec.ID, Size: sess.tok.size,
		PartSize: sess.tok.partSize, PartCount: sess.tok.count(), Parts: []partInfo{}}
	seen := map[int]int{}
	for _, p := range stored {
		if p.Number < 1 || p.Number > sess.tok.count() {
			continue
		}
		info := partInfo{PartNumber: p.Number, Size: p.Size, SHA256: p.SHA256, From: p.From, ETag: p.ETag}
		if i, dup := seen[p.Number]; dup {
			res.Parts[i] = info
			continue
		}
		seen[p.Number] = len(res.Parts)
		res.Parts = append(res.Parts, info)
	}
	writeJSON(w, status, res)
}

// sessionFor returns the upload the path names, or answers 404.
func (s *Server) sessionFor(w http.ResponseWriter, r *http.Request, rec meta.File) (session, bool) {
	tok, e := s.tokenFor(rec, r.PathValue("upload"))
	if e != nil {
		writeError(w, e)
		return session{}, false
	}
	sess, found, err := s.parter().session(r.Context(), rec, tok)
	if err != nil {
		s.storeError(w, r, "multipart", err)
		return sess, false
	}
	if !found {
		writeError(w, ErrUploadNotFound)
		return sess, false
	}
	return sess, true
}

func (s *Server) handlePartURLs(w http.ResponseWriter, r *http.Request) {
	var req partsRequest
	if e := decode(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	rec, ok := s.fileFor(w, r)
	if !ok {
		return
	}
	if rec.Status == meta.StatusUploaded {
		writeError(w, ErrAlreadyDone)
		return
	}
	sess, ok := s.sessionFor(w, r, rec)
	if !ok {
		return
	}
	if len(req.Parts) == 0 || len(req.Parts) > maxPartURLs {
		writeError(w, ErrInvalidParts.With("ask for 1 to %d part URLs at a time, not %d", maxPartURLs, len(req.Parts)))
		return
	}
	refs, e := checkRefs(req.Parts, sess.tok, s.chainedParts())
	if e != nil {
		writeError(w, e)
		return
	}
	if !s.touch(w, r, rec) {
		return
	}
	exp := time.Now().Add(s.cfg.UploadURLTTL)
	out := make([]partURL, 0, len(refs))
	for _, ref := range refs {
		p := blob.Part{Number: ref.PartNumber, Size: sess.tok.partLen(ref.PartNumber), SHA256: ref.SHA256, From: ref.From}
		u, header, err := s.parter().partURL(r, rec, sess, p, exp)
		if err != nil {
			s.storeError(w, r, "presign part", err)
			return
		}
		if header == nil {
			header = map[string]string{}
		}
		out = append(out, partURL{PartNumber: p.Number, URL: u, Size: p.Size, Headers: header,
			ExpiresAt: exp.UTC().Format(TimeFormat)})
	}
	writeJSON(w, http.StatusOK, map[string][]partURL{"parts": out})
}

// checkRefs checks part references against the upload's plan and returns
// them with hashes in lower case; chained says whether chained parts (From)
// are taken.
func checkRefs(refs []partRef, tok uploadToken, chained bool) ([]partRef, *Error) {
	seen := map[int]bool{}
	out := make([]partRef, len(refs))
	for i, ref := range refs {
		h, ok := checkHash(ref.SHA256)
		if !ok || ref.PartNumber < 1 || ref.PartNumber > tok.count() || seen[ref.PartNumber] {
			return nil, ErrInvalidParts.With("part %d (sha256 %q): %s; this upload has parts 1 to %d",
				ref.PartNumber, ref.SHA256, ErrInvalidParts.Message, tok.count())
		}
		seen[ref.PartNumber] = true
		out[i] = partRef{PartNumber: ref.PartNumber, SHA256: h}
		if ref.From == "" {
			continue
		}
		from, ok := checkHash(ref.From)
		switch {
		case !chained:
			return nil, ErrInvalidParts.With("part %d has a from: this server's store does not take chained parts (see chainedParts in /api/v0/limits); name each part by its own sha256", ref.PartNumber)
		case !ok:
			return nil, ErrInvalidParts.With("part %d: from %q is not a SHA-256 chaining value (64 hex digits)", ref.PartNumber, ref.From)
		case tok.count() > 1 && tok.partSize%sha256chain.BlockSize != 0:
			return nil, ErrInvalidParts.With("part %d has a from, but a partSize of %d bytes is not a multiple of 64: chained parts must start and end at SHA-256 block boundaries", ref.PartNumber, tok.partSize)
		}
		out[i].From = from
	}
	return out, nil
}

func (s *Server) handleMultipartAbort(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.fileFor(w, r)
	if !ok {
		return
	}
	sess, ok := s.sessionFor(w, r, rec)
	if !ok {
		return
	}
	// Not while the file is being completed: the abort waits for the
	// verdict, so that it never removes what complete is committing.
	lock := completeLock(rec)
	if !s.awaitClaim(r.Context(), lock) {
		s.storeError(w, r, "multipart abort", errCompleting)
		return
	}
	defer s.releaseVerify(lock)
	if err := s.parter().abort(r.Context(), rec, sess); err != nil {
		s.storeError(w, r, "multipart abort", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
