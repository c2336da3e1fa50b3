package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/perseus-go/perseus/internal/ingest"
)

// batchManifest is the first line of a batch upload's body: the files
// whose bytes follow, in order.
type batchManifest struct {
	Files []batchPiece `json:"files"`
}

type batchPiece struct {
	ID   string `json:"id"`
	Size *int64 `json:"size"`
}

type batchContentResponse struct {
	Results []batchContentResult `json:"results"`
}

// batchContentResult is one file's answer in a batch upload: its id, and
// the status and body a PUT of its bytes to its upload URL would have
// answered.
type batchContentResult struct {
	ID      string `json:"id"`
	Status  int    `json:"status"`
	File    *File  `json:"file,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// handleBatchContent takes the bytes of many created files in one request
// (ingest.Core.ReceiveAll): a line of JSON naming them and their sizes,
// then their bytes one after the other. The store makes all those that
// verify durable together and their records say uploaded together; each
// file is answered as a PUT of its bytes would have been (200 with a
// status per file). Served where the blob store commits files together
// (batchContent in GET /api/v0/limits).
func (s *Server) handleBatchContent(w http.ResponseWriter, r *http.Request) {
	files, most := s.core.BatchLimits()
	if files == 0 {
		writeError(w, ErrBatchOff)
		return
	}
	br := bufio.NewReaderSize(r.Body, 64<<10)
	m, n, e := readManifest(br)
	if e != nil {
		writeError(w, e)
		return
	}
	pieces := make([]ingest.Piece, len(m.Files))
	seen := map[string]bool{}
	var sum int64
	for i, f := range m.Files {
		if f.ID == "" || f.Size == nil || *f.Size < 0 || seen[f.ID] {
			writeError(w, ErrBatchFrame.With("files[%d] must have an id (each id once) and a size of 0 or more bytes", i))
			return
		}
		if *f.Size > most-sum { // checked before adding: sizes near MaxInt64 must not wrap the sum
			writeError(w, ErrTooLarge.With("the files' sizes add up to more than %d bytes, which one batch upload takes at most (batchContentMaxBytes in GET /api/v0/limits): split the request", most))
			return
		}
		seen[f.ID] = true
		pieces[i] = ingest.Piece{ID: f.ID, Size: *f.Size}
		sum += *f.Size
	}
	switch {
	case len(pieces) == 0:
		writeError(w, ErrBatchFrame.With("files must list the files whose bytes follow, 1 to %d of them", files))
		return
	case len(pieces) > files:
		writeError(w, ErrTooMany.With("%d files in one batch upload; at most %d are allowed (batchContent in GET /api/v0/limits): split the request", len(pieces), files))
		return
	case r.ContentLength >= 0 && r.ContentLength != n+sum:
		writeError(w, ErrBatchFrame.With("Content-Length is %d, but the first line (%d bytes, its newline included) and the sizes it lists (%d bytes) add up to %d", r.ContentLength, n, sum, n+sum))
		return
	}
	outs, err := s.core.ReceiveAll(r.Context(), tenantOf(r), pieces, br)
	if err != nil {
		s.fail(w, r, "upload", err)
		return
	}
	results := make([]batchContentResult, len(outs))
	for i, o := range outs {
		res := batchContentResult{ID: pieces[i].ID, Status: http.StatusOK}
		if o.Err != nil {
			b := s.refusal(r, "upload", o.Err)
			res.Status, res.Code, res.Message = b.Status, b.Code, b.Message
		} else {
			f := toFile(o.Rec)
			res.File = &f
		}
		results[i] = res
	}
	writeJSON(w, http.StatusOK, batchContentResponse{Results: results})
}

// readManifest reads a batch upload's first line, at most maxJSONBody
// bytes, and returns it decoded with its length, newline included.
func readManifest(br *bufio.Reader) (batchManifest, int64, *Error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxJSONBody {
			return batchManifest{}, 0, ErrBatchFrame.With("the first line is longer than %d bytes", maxJSONBody)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				return batchManifest{}, 0, ErrBatchFrame
			}
			return batchManifest{}, 0, ErrIncomplete.With("the body ended in its first line (%v); nothing was kept, send it again", err)
		}
	}
	var m batchManifest
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, 0, ErrBatchFrame.With(`the first line is not {"files": [{"id": …, "size": …}, …]}: %v`, err)
	}
	return m, int64(len(line)), nil
}
