package perseus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// uploadPut sends the file at path, hashed as d, in one PUT to the upload
// URL that create answered in res. When the URL has expired (403) it
// creates again, which returns the same record with a fresh URL.
func (s *FileService) uploadPut(ctx context.Context, path string, res *CreateFileResult, d digest, cfg uploadConfig, tr *tracker) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	for refreshed := 0; ; refreshed++ {
		done, err := s.put(ctx, res.UploadURL, f, d.size, tr)
		var ae *APIError
		switch {
		case err == nil && done != nil && done.ID == res.File.ID:
			return done, nil
		case err == nil:
			return res.File, nil
		case errors.As(err, &ae) && ae.StatusCode == http.StatusForbidden && refreshed < 2:
			// Most likely expired (a slow link, a long retry): creating again
			// returns the same record with a fresh URL.
			if res, err = s.CreateFile(ctx, cfg.name, d.hash); errors.Is(err, ErrConflict) {
				return s.existing(ctx, d.hash)
			} else if err != nil {
				return nil, err
			}
		case errors.As(err, &ae) && ae.StatusCode == http.StatusConflict:
			return s.existing(ctx, d.hash) // someone else's upload of this content won
		case errors.As(err, &ae) && !errors.Is(err, ErrUploadFailed):
			// The contract: any 4xx/5xx answer to the PUT is a failed upload.
			return nil, fmt.Errorf("%w: %w", ErrUploadFailed, err)
		default:
			return nil, err
		}
	}
}

// put sends size bytes of f to the upload URL, retrying what a retry can fix.
// It returns the File the server answered with, if it answered with one.
func (s *FileService) put(ctx context.Context, uploadURL string, f *os.File, size int64, tr *tracker) (*File, error) {
	var out *File
	err := s.client.do(ctx, request{method: http.MethodPut, url: uploadURL, body: section{f, 0, size, tr}}, func(resp *http.Response) error {
		var f File
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&f) == nil && f.ID != "" {
			out = &f
		}
		return nil
	})
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusUnprocessableEntity {
		return nil, fmt.Errorf("%w: %w", ErrUploadFailed, err)
	}
	return out, err
}
