package perseus

import (
	"context"
	"net/http"
	"sync"
)

// Limits are the bounds a server holds uploads to (GET /api/v0/limits). The
// zero Limits stands for a server that declares none and takes each file in
// one PUT.
type Limits struct {
	MaxFileSize          int64  `json:"maxFileSize"`          // largest content accepted, in bytes
	MinPartSize          int64  `json:"minPartSize"`          // smallest part but the last, in bytes
	MaxPartSize          int64  `json:"maxPartSize"`          // largest part, in bytes
	MaxParts             int    `json:"maxParts"`             // most parts in one multipart upload
	UploadURLTTLSeconds  int64  `json:"uploadUrlTtlSeconds"`  // how long an upload or part URL stays valid
	Multipart            bool   `json:"multipart"`            // whether files may be sent in parts
	PartChecksum         string `json:"partChecksum"`         // the checksum parts are held to: "sha256"
	ChainedParts         bool   `json:"chainedParts"`         // whether parts may be checked as pieces of the whole's SHA-256
	OpenMultipart        bool   `json:"openMultipart"`        // whether parts of a new file may be sent before its hash is known (open uploads)
	StreamMaxSize        int64  `json:"streamMaxSize"`        // largest file that may be sent before it is hashed; 0: none
	BatchCreate          int    `json:"batchCreate"`          // most files one batch create makes (CreateFiles); 0: none
	BatchContent         int    `json:"batchContent"`         // most files whose bytes one batch upload takes (UploadFiles); 0: none
	BatchContentMaxBytes int64  `json:"batchContentMaxBytes"` // most bytes of content one batch upload takes; 0: none
	Tus                  string `json:"tus"`                  // the path of the server's tus 1.0 endpoint; "": none
	TusMaxSize           int64  `json:"tusMaxSize"`           // largest upload the tus endpoint takes; 0: no bound declared
	TusPreferred         bool   `json:"tusPreferred"`         // whether the server takes a new large file in order through tus at least as cheaply as in parts
	FileChecksum         string `json:"fileChecksum"`         // the whole-file checksum the tus endpoint checks with an upload's last bytes: "crc64nvme", or "": none
}

type limitsCache struct {
	mu  sync.Mutex
	got bool
	l   Limits
}

// Limits returns the server's declared limits, asking the server once per
// Client. A server without the endpoint yields the zero Limits and no error.
func (s *FileService) Limits(ctx context.Context) (Limits, error) {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	if s.limits.got {
		return s.limits.l, nil
	}
	var l Limits
	err := s.client.call(ctx, http.MethodGet, "/api/v0/limits", nil, &l)
	if unsupported(err) {
		l, err = Limits{}, nil
	}
	if err != nil {
		return Limits{}, err
	}
	if l.PartChecksum != "sha256" {
		l.Multipart = false // parts this client cannot have checked
	}
	s.limits.got, s.limits.l = true, l
	return l, nil
}
