package server

import (
	"net/http"
	"net/url"
	"time"
)

// handleDownloadURL answers POST /api/v0/file/{id}/download-url: a URL that
// downloads an uploaded file's content without the API key for
// downloadURLTTL, for a browser to navigate to (it cannot send the key in a
// header, and the key must not go in a URL). On a store that presigns reads
// it is the store's presigned GET; otherwise this server's /download/{id},
// signed for the file and its content.
func (s *Server) handleDownloadURL(w http.ResponseWriter, r *http.Request) {
	f, link, err := s.core.DownloadLink(r.Context(), tenantOf(r), r.PathValue("id"), downloadURLTTL)
	if err != nil {
		s.fail(w, r, "download-url", err)
		return
	}
	u := link.URL
	if u == "" {
		u = s.baseURL(r) + "/download/" + url.PathEscape(f.ID) + "?" + link.Query
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, redirectResponse{URL: u, ExpiresAt: link.Expires.UTC().Format(TimeFormat)})
}

// handleDownload answers GET (and HEAD) /download/{id}, a URL that
// handleDownloadURL signed and that is its own credential: the content as
// GET /api/v0/file/{id}/content serves it from the server. The answer is
// neither cached nor named to the next page as a referrer, since its URL
// is a credential while it lasts.
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "private, no-store")
	h.Set("Referrer-Policy", "no-referrer")
	f, err := s.core.CheckDownload(r.Context(), r.PathValue("id"), r.URL.Query(), time.Now())
	if err != nil {
		s.fail(w, r, "download", err)
		return
	}
	s.serveContent(w, r, f)
}
