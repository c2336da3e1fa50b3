package server

import (
	"errors"
	"net/http"

	"github.com/perseus-go/perseus/store/blob"
)

// Limits is what GET /api/v0/limits answers: the bounds this server holds
// uploads to, so that clients can choose part sizes and refuse what would be
// refused anyway.
type Limits struct {
	MaxFileSize         int64  `json:"maxFileSize"`         // largest content, in bytes
	MinPartSize         int64  `json:"minPartSize"`         // smallest part but the last, in bytes
	MaxPartSize         int64  `json:"maxPartSize"`         // largest part, in bytes
	MaxParts            int    `json:"maxParts"`            // most parts in one multipart upload
	UploadURLTTLSeconds int64  `json:"uploadUrlTtlSeconds"` // how long an upload or part URL stays valid
	Multipart           bool   `json:"multipart"`           // whether the multipart endpoints are served
	PartChecksum        string `json:"partChecksum"`        // the checksum each part is held to: "sha256"
	ChainedParts        bool   `json:"chainedParts"`        // whether parts may be checked as pieces of the whole's SHA-256 ("from")
	StreamMaxSize       int64  `json:"streamMaxSize"`       // largest file POST /api/v0/file/stream takes; 0: not served
}

// partDefaults fills and checks the multipart bounds of a Config.
func (c *Config) partDefaults() error {
	if c.MinPartSize <= 0 {
		c.MinPartSize = 5 << 20
	}
	if c.MaxPartSize <= 0 {
		c.MaxPartSize = 5 << 30
	}
	if c.MaxParts <= 0 {
		c.MaxParts = 10000
	}
	if c.MinPartSize > c.MaxPartSize {
		return errors.New("server: Config.MinPartSize must not be more than Config.MaxPartSize")
	}
	if c.MaxParts > 10000 {
		// S3's own limit; it also keeps a complete request's list of parts
		// within the JSON body limit.
		return errors.New("server: Config.MaxParts must be at most 10000")
	}
	return nil
}

func (s *Server) limits() Limits {
	return Limits{
		MaxFileSize: s.cfg.MaxFileSize, MinPartSize: s.cfg.MinPartSize, MaxPartSize: s.cfg.MaxPartSize,
		MaxParts: s.cfg.MaxParts, UploadURLTTLSeconds: int64(s.cfg.UploadURLTTL.Seconds()),
		Multipart: true, PartChecksum: "sha256", ChainedParts: s.chainedParts(), StreamMaxSize: s.streamMax(),
	}
}

// streamMax is the largest file handleStream takes: what the store writes
// in one streamed request (blob.SizedCreator), or any file it takes.
func (s *Server) streamMax() int64 {
	if sc, ok := s.cfg.Blobs.(blob.SizedCreator); ok {
		return min(s.cfg.MaxFileSize, sc.MaxSized())
	}
	return s.cfg.MaxFileSize
}

// chainedParts reports whether parts may be chained (partRef.From): only
// through this server into an assembly, where the store checks them as
// pieces of the whole's hash.
func (s *Server) chainedParts() bool {
	_, ok := s.parter().(assembledParts)
	return ok
}

func (s *Server) handleLimits(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.limits())
}

// checkPlan answers whether a file of size bytes in parts of partSize bytes
// is within the limits: 413 for what exceeds them, 400 for what makes no sense.
func (s *Server) checkPlan(size, partSize int64) *Error {
	switch {
	case size <= 0 || partSize <= 0:
		return ErrInvalidPartSize.With("size %d and partSize %d: %s", size, partSize, ErrInvalidPartSize.Message)
	case size > s.cfg.MaxFileSize:
		return ErrTooLarge.With("the file is %d bytes; this server accepts at most %d (maxFileSize)", size, s.cfg.MaxFileSize)
	case partSize > s.cfg.MaxPartSize:
		return ErrTooLarge.With("partSize %d is more than this server's maxPartSize %d", partSize, s.cfg.MaxPartSize)
	case partSize < s.cfg.MinPartSize && size > partSize:
		return ErrInvalidPartSize.With("partSize %d is less than this server's minPartSize %d", partSize, s.cfg.MinPartSize)
	}
	if n := (size + partSize - 1) / partSize; n > int64(s.cfg.MaxParts) {
		return ErrTooLarge.With("%d bytes in parts of %d make %d parts; this server accepts at most %d (maxParts): use larger parts", size, partSize, n, s.cfg.MaxParts)
	}
	return nil
}
