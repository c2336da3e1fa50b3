package server

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// downloadURLTTL is how long a download URL stays valid: the presigned GET
// of a redirect, and the URLs of POST /api/v0/file/{id}/download-url.
const downloadURLTTL = 15 * time.Minute

type redirectResponse struct {
	URL       string `json:"url"`
	ExpiresAt string `json:"expiresAt"`
}

// handleContent answers GET (and HEAD) /api/v0/file/{id}/content: the bytes
// of an uploaded file (serveContent). A store that presigns reads is not
// streamed through: the answer is a 307 to a presigned GET.
func (s *Server) handleContent(w http.ResponseWriter, r *http.Request) {
	f, err := s.core.Downloadable(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, "download", err)
		return
	}
	u, redirect, err := s.core.ContentURL(r.Context(), f, downloadURLTTL)
	if err != nil {
		s.storeError(w, r, "download", err)
		return
	}
	if redirect {
		h := w.Header()
		setDigests(h, f)
		h.Set("Location", u)
		h.Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusTemporaryRedirect, redirectResponse{URL: u,
			ExpiresAt: time.Now().Add(downloadURLTTL).UTC().Format(TimeFormat)})
		return
	}
	s.serveContent(w, r, f)
}

// setDigests says what f's content hashes to: every answer that carries or
// points at the content has an ETag (the quoted hex SHA-256) and a
// Repr-Digest (RFC 9530), so clients can verify it.
func setDigests(h http.Header, f meta.File) {
	h.Set("ETag", `"`+f.SourceHash+`"`)
	if sum, err := hex.DecodeString(f.SourceHash); err == nil {
		h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	}
}

// serveContent answers with the bytes of f, which is uploaded, read through
// the blob store: Range and conditional requests as http.ServeContent does
// them, an attachment under the file's name.
func (s *Server) serveContent(w http.ResponseWriter, r *http.Request, f meta.File) {
	h := w.Header()
	setDigests(h, f)
	content, err := s.core.OpenContent(r.Context(), f)
	if errors.Is(err, blob.ErrNotFound) {
		writeError(w, ErrContentMissing)
		return
	}
	if err != nil {
		s.storeError(w, r, "download", err)
		return
	}
	defer content.Close()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(&jsonErrors{ResponseWriter: w}, r, "", f.UpdatedAt, content)
	if err := content.Err(); err != nil && r.Context().Err() == nil {
		s.cfg.Logger.ErrorContext(r.Context(), "download cut short", "id", f.ID, "err", err)
	}
}

// jsonErrors turns the error answers http.ServeContent writes as text (416,
// 412) into the API's JSON errors; everything else passes through.
type jsonErrors struct {
	http.ResponseWriter
	swallow bool
}

func (j *jsonErrors) WriteHeader(code int) {
	var e *Error
	switch code {
	case http.StatusRequestedRangeNotSatisfiable:
		e = ErrRangeNotSatisfy
	case http.StatusPreconditionFailed:
		e = ErrPrecondition
	default:
		if code >= 400 {
			e = ErrInternal
		}
	}
	if e == nil {
		j.ResponseWriter.WriteHeader(code)
		return
	}
	j.swallow = true
	h := j.Header()
	h.Del("Content-Length")
	h.Del("Content-Disposition")
	writeJSON(j.ResponseWriter, code, e)
}

func (j *jsonErrors) Write(p []byte) (int, error) {
	if j.swallow {
		return len(p), nil
	}
	return j.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (j *jsonErrors) Unwrap() http.ResponseWriter { return j.ResponseWriter }
