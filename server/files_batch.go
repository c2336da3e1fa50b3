package server

import (
	"net/http"
	"time"

	"github.com/perseus-go/perseus/internal/ingest"
	"github.com/perseus-go/perseus/store/meta"
)

// maxBatchCreate is the most files one batch create takes (GET
// /api/v0/limits says it as batchCreate). Even with names of 1024 bytes
// that all need escaping, so many fit in a JSON body's 1 MiB; and more
// would make the first PUT of a client wait for the metadata writes of
// files it sends much later.
const maxBatchCreate = 100

type batchCreateRequest struct {
	Files []createRequest `json:"files"`
}

type batchCreateResponse struct {
	Results []batchResult `json:"results"`
}

// batchResult is one file's answer in a batch create: the status, and the
// body, a single create would have answered for it.
type batchResult struct {
	Status          int    `json:"status"`
	File            *File  `json:"file,omitempty"`
	UploadURL       string `json:"uploadUrl,omitempty"`
	UploadExpiresAt string `json:"uploadExpiresAt,omitempty"`
	MaxFileSize     int64  `json:"maxFileSize,omitempty"`
	Code            string `json:"code,omitempty"`
	Message         string `json:"message,omitempty"`
}

func created(status int, a createResponse) batchResult {
	return batchResult{Status: status, File: &a.File, UploadURL: a.UploadURL, UploadExpiresAt: a.UploadExpiresAt, MaxFileSize: a.MaxFileSize}
}

func refused(e *Error, f *File) batchResult {
	return batchResult{Status: e.Status, Code: e.Code, Message: e.Message, File: f}
}

// handleCreateBatch creates up to maxBatchCreate files in one request,
// answering each as POST /api/v0/file would (200 with a status per file):
// a client with many small files to send makes one request for their
// records instead of one each, and the core writes them in one commit.
func (s *Server) handleCreateBatch(w http.ResponseWriter, r *http.Request) {
	var req batchCreateRequest
	if e := decode(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	switch n := len(req.Files); {
	case n == 0:
		writeError(w, ErrBadRequest.With("files must list the files to create, 1 to %d of them", maxBatchCreate))
		return
	case n > maxBatchCreate:
		writeError(w, ErrTooMany.With("%d files in one batch create; at most %d are allowed (batchCreate in GET /api/v0/limits): split the request", n, maxBatchCreate))
		return
	}
	results := make([]batchResult, len(req.Files))
	var wants []ingest.Want
	var at []int // at[j]: the index in req.Files of wants[j]
	for i, f := range req.Files {
		hash, e := checkCreate(f)
		if e != nil {
			results[i] = refused(e, nil)
			continue
		}
		wants = append(wants, ingest.Want{Name: *f.Name, Hash: hash})
		at = append(at, i)
	}
	outs, err := s.core.CreateAll(r.Context(), tenantOf(r), wants)
	if err != nil {
		s.fail(w, r, "create", err)
		return
	}
	exp := time.Now().Add(s.cfg.UploadURLTTL)
	for j, o := range outs {
		results[at[j]] = s.batchAnswer(r, o, exp)
	}
	writeJSON(w, http.StatusOK, batchCreateResponse{Results: results})
}

// batchAnswer is the answer to one file of a batch create whose outcome is o.
func (s *Server) batchAnswer(r *http.Request, o ingest.Outcome, exp time.Time) batchResult {
	if o.Err != nil {
		return s.refusal(r, "create", o.Err)
	}
	if o.Rec.Status == meta.StatusUploaded {
		f := toFile(o.Rec)
		return refused(ErrFileExists, &f)
	}
	a, err := s.createAnswer(r, o.Rec, exp)
	if err != nil {
		return s.refusal(r, "presign", err)
	}
	if o.Created {
		return created(http.StatusCreated, a)
	}
	return created(http.StatusOK, a)
}

// refusal is the answer to one file of a batch that err refused: the
// table's answer, or for a backend's own failure a 503 with the details
// in the log, as fail answers a whole request.
func (s *Server) refusal(r *http.Request, op string, err error) batchResult {
	if e := answerOf(err); e != nil {
		return refused(e, nil)
	}
	s.cfg.Logger.ErrorContext(r.Context(), "store failure", "op", op, "path", r.URL.Path, "err", err)
	return refused(ErrUnavailable.With("%s failed: a storage backend is unavailable; retry later", op), nil)
}
