package server

import "net/http"

// Limits is what GET /api/v0/limits answers: the bounds this server holds
// uploads to, so that clients can choose part sizes and refuse what would be
// refused anyway, and the limits each tenant is held to, with the caller's
// usage where a quota applies.
type Limits struct {
	MaxFileSize          int64  `json:"maxFileSize"`          // largest content, in bytes
	MinPartSize          int64  `json:"minPartSize"`          // smallest part but the last, in bytes
	MaxPartSize          int64  `json:"maxPartSize"`          // largest part, in bytes
	MaxParts             int    `json:"maxParts"`             // most parts in one multipart upload
	UploadURLTTLSeconds  int64  `json:"uploadUrlTtlSeconds"`  // how long an upload or part URL stays valid
	Multipart            bool   `json:"multipart"`            // whether the multipart endpoints are served
	PartChecksum         string `json:"partChecksum"`         // the checksum each part is held to: "sha256"
	ChainedParts         bool   `json:"chainedParts"`         // whether parts may be checked as pieces of the whole's SHA-256 ("from")
	StreamMaxSize        int64  `json:"streamMaxSize"`        // largest file POST /api/v0/file/stream takes; 0: not served
	OpenMultipart        bool   `json:"openMultipart"`        // whether POST /api/v0/file/multipart begins uploads before the hash is known
	BatchCreate          int    `json:"batchCreate"`          // most files one POST /api/v0/file/batch creates; 0: not served
	BatchContent         int    `json:"batchContent"`         // most files whose bytes one POST /api/v0/file/batch/content takes; 0: not served
	BatchContentMaxBytes int64  `json:"batchContentMaxBytes"` // most bytes of content it takes; 0: not served
	Tus                  string `json:"tus"`                  // where the tus 1.0 endpoint is served ("" : not served)
	TusMaxSize           int64  `json:"tusMaxSize"`           // largest upload it takes (its Tus-Max-Size)
	TusExpiresSeconds    int64  `json:"tusExpiresSeconds"`    // how long an upload lasts without bytes arriving (Upload-Expires)
	TusPreferred         bool   `json:"tusPreferred"`         // whether a new large file costs no more in order through tus than in parts here (the store takes its bytes in place)
	FileChecksum         string `json:"fileChecksum"`         // the whole-file checksum a tus request ending an upload may declare (Perseus-File-Checksum): "crc64nvme"

	RateLimit  float64 `json:"rateLimit"`           // requests per second each API key may make, sustained; 0: no limit
	RateBurst  int     `json:"rateBurst"`           // requests each API key may make at once; 0: no limit
	QuotaFiles int64   `json:"quotaFiles"`          // most files (pending or uploaded) a tenant keeps; 0: no bound
	QuotaBytes int64   `json:"quotaBytes"`          // most bytes of uploaded files a tenant keeps; 0: no bound
	UsedFiles  *int64  `json:"usedFiles,omitempty"` // the caller's files as quotaFiles counts them; only with a quota
	UsedBytes  *int64  `json:"usedBytes,omitempty"` // the caller's bytes as quotaBytes counts them; only with a quota
}

func (s *Server) handleLimits(w http.ResponseWriter, r *http.Request) {
	l := s.core.Limits()
	ans := Limits{
		MaxFileSize: l.MaxFileSize, MinPartSize: l.MinPartSize, MaxPartSize: l.MaxPartSize,
		MaxParts: l.MaxParts, UploadURLTTLSeconds: int64(s.cfg.UploadURLTTL.Seconds()),
		Multipart: true, PartChecksum: "sha256", ChainedParts: l.ChainedParts, StreamMaxSize: l.StreamMaxSize,
		OpenMultipart: true,
		RateLimit:     s.cfg.RateLimit, RateBurst: s.cfg.RateBurst, QuotaFiles: l.QuotaFiles, QuotaBytes: l.QuotaBytes,
	}
	ans.BatchCreate = maxBatchCreate
	ans.BatchContent, ans.BatchContentMaxBytes = s.core.BatchLimits()
	ans.Tus, ans.TusMaxSize, ans.TusExpiresSeconds = tusBase, l.MaxFileSize, int64(l.PendingTTL.Seconds())
	ans.FileChecksum, ans.TusPreferred = "crc64nvme", l.ResumablePreferred
	if l.QuotaFiles > 0 || l.QuotaBytes > 0 {
		u, err := s.core.Usage(r.Context(), tenantOf(r))
		if err != nil {
			s.fail(w, r, "usage", err)
			return
		}
		ans.UsedFiles, ans.UsedBytes = &u.Files, &u.Bytes
	}
	writeJSON(w, http.StatusOK, ans)
}
