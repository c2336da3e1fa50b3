package server

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// downloadURLTTL is how long a presigned download URL stays valid.
const downloadURLTTL = 15 * time.Minute

type redirectResponse struct {
	URL       string `json:"url"`
	ExpiresAt string `json:"expiresAt"`
}

// handleContent answers GET (and HEAD) /api/v0/file/{id}/content: the bytes
// of an uploaded file, with Range and conditional requests as
// http.ServeContent does them. A store that presigns reads is not streamed
// through: the answer is a 307 to a presigned GET.
//
// Every answer that carries or points at the content has an ETag (the quoted
// hex SHA-256) and a Repr-Digest (RFC 9530), so clients can verify it.
func (s *Server) handleContent(w http.ResponseWriter, r *http.Request) {
	f, err := s.cfg.Meta.Get(r.Context(), tenantOf(r), r.PathValue("id"))
	if errors.Is(err, meta.ErrNotFound) {
		writeError(w, ErrFileNotFound)
		return
	}
	if err != nil {
		s.storeError(w, r, "download", err)
		return
	}
	if f.Status != meta.StatusUploaded {
		writeError(w, ErrNotUploaded.With("file %s is %s: only an uploaded file has content to download", f.ID, f.Status))
		return
	}
	key := contentKey(f.Tenant, f.SourceHash, f.ID)
	h := w.Header()
	h.Set("ETag", `"`+f.SourceHash+`"`)
	if sum, err := hex.DecodeString(f.SourceHash); err == nil {
		h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	}
	if pg, ok := s.cfg.Blobs.(blob.PresignGetter); ok {
		u, err := pg.PresignGet(r.Context(), key, downloadURLTTL)
		if err != nil {
			s.obs.blobError("presign_get")
			s.storeError(w, r, "download", err)
			return
		}
		h.Set("Location", u)
		h.Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusTemporaryRedirect, redirectResponse{URL: u,
			ExpiresAt: time.Now().Add(downloadURLTTL).UTC().Format(TimeFormat)})
		return
	}
	info, err := s.cfg.Blobs.Stat(r.Context(), key)
	if errors.Is(err, blob.ErrNotFound) {
		s.cfg.Logger.ErrorContext(r.Context(), "uploaded file without content", "id", f.ID, "key", key)
		writeError(w, ErrContentMissing)
		return
	}
	if err != nil {
		s.obs.blobError("stat")
		s.storeError(w, r, "download", err)
		return
	}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	content := &blobSeeker{ctx: r.Context(), store: s.cfg.Blobs, key: key, size: info.Size}
	defer content.Close()
	http.ServeContent(&jsonErrors{ResponseWriter: w}, r, "", f.UpdatedAt, content)
	if content.err != nil && r.Context().Err() == nil {
		s.obs.blobError("open")
		s.cfg.Logger.ErrorContext(r.Context(), "download cut short", "id", f.ID, "err", content.err)
	}
}

// blobSeeker reads one object as an io.ReadSeeker for http.ServeContent: a
// seek only moves the position; the next read opens the object there.
type blobSeeker struct {
	ctx       context.Context
	store     blob.Store
	key       string
	size, off int64
	r         io.ReadCloser
	err       error // the first error of the store, if any
}

func (b *blobSeeker) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	case io.SeekStart:
	default:
		return 0, errors.New("blobSeeker: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("blobSeeker: negative position")
	}
	if offset != b.off {
		b.Close()
		b.off = offset
	}
	return offset, nil
}

func (b *blobSeeker) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	if b.r == nil {
		r, err := b.store.Open(b.ctx, b.key, b.off)
		if err != nil {
			b.err = err
			return 0, err
		}
		b.r = r
	}
	n, err := b.r.Read(p)
	b.off += int64(n)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// Close releases the open reader, if any.
func (b *blobSeeker) Close() error {
	if b.r == nil {
		return nil
	}
	err := b.r.Close()
	b.r = nil
	return err
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
