package perseus

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// DownloadURL is a URL that serves one file's content to a plain GET,
// without the API key, until ExpiresAt.
type DownloadURL struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// DownloadURL returns a short-lived URL (15 minutes on our server) that
// downloads the content of the file with this id without the API key, as an
// attachment under the file's name: for a browser to navigate to, or for
// another program to fetch. Whoever holds it can read the content until it
// expires, so hand it on only as you would the content. A file that is not
// uploaded matches ErrConflict; an unknown id, ErrNotFound.
func (s *FileService) DownloadURL(ctx context.Context, id string) (*DownloadURL, error) {
	var d DownloadURL
	err := s.client.call(ctx, http.MethodPost, "/api/v0/file/"+url.PathEscape(id)+"/download-url", nil, &d)
	if unsupported(err) {
		return nil, fmt.Errorf("perseus: this server offers no download URLs: %w", err)
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}
