package server

import "net/http"

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

func (s *Server) handleLimits(w http.ResponseWriter, r *http.Request) {
	l := s.core.Limits()
	writeJSON(w, http.StatusOK, Limits{
		MaxFileSize: l.MaxFileSize, MinPartSize: l.MinPartSize, MaxPartSize: l.MaxPartSize,
		MaxParts: l.MaxParts, UploadURLTTLSeconds: int64(s.cfg.UploadURLTTL.Seconds()),
		Multipart: true, PartChecksum: "sha256", ChainedParts: l.ChainedParts, StreamMaxSize: l.StreamMaxSize,
	})
}
