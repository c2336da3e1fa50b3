package perseus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
)

// UploadOption configures UploadFile.
type UploadOption func(*uploadConfig)

type uploadConfig struct {
	name     string
	progress func(Progress)
}

// Progress reports how far one upload is.
type Progress struct {
	Path  string
	Sent  int64 // bytes sent so far
	Total int64 // bytes in the file
}

// WithName sets the file's name instead of the path's base name.
func WithName(name string) UploadOption { return func(c *uploadConfig) { c.name = name } }

// WithProgress calls fn as bytes are sent. fn must be quick; it runs on the
// goroutine of the HTTP transport that writes the body. A retried attempt
// starts again from Sent 0, and its calls may overlap the last ones of the
// failed attempt, so fn must be safe for concurrent use.
func WithProgress(fn func(Progress)) UploadOption { return func(c *uploadConfig) { c.progress = fn } }

// HashFile returns the hex SHA-256 of the file at path and its size, reading it once.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("perseus: hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// UploadFile uploads the file at path: it hashes it in one streaming pass,
// creates the record and PUTs the bytes from the file with a Content-Length,
// never holding the file in memory. If that content is already uploaded, the
// existing file is returned and nothing is sent. The returned file is
// uploaded when the server verified it on the spot, pending when the server
// verifies later (see WaitForFileUpload).
func (s *FileService) UploadFile(ctx context.Context, path string, opts ...UploadOption) (*File, error) {
	cfg := uploadConfig{name: filepath.Base(path)}
	for _, o := range opts {
		o(&cfg)
	}
	hash, size, err := HashFile(path)
	if err != nil {
		return nil, err
	}
	return s.uploadHashed(ctx, path, hash, size, cfg)
}

func (s *FileService) uploadHashed(ctx context.Context, path, hash string, size int64, cfg uploadConfig) (*File, error) {
	res, err := s.CreateFile(ctx, cfg.name, hash)
	if errors.Is(err, ErrConflict) {
		return s.existing(ctx, hash)
	}
	if err != nil {
		return nil, err
	}
	if res.File == nil || res.UploadURL == "" {
		return nil, errors.New("perseus: create answered without a file or an uploadUrl")
	}
	if res.MaxFileSize > 0 && size > res.MaxFileSize {
		return nil, fmt.Errorf("perseus: %s is %d bytes; the server accepts at most %d", path, size, res.MaxFileSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	done, err := s.put(ctx, res.UploadURL, f, size, path, cfg.progress)
	if err != nil {
		return nil, err
	}
	if done != nil && done.ID == res.File.ID {
		return done, nil
	}
	return res.File, nil
}

// existing returns the uploaded file holding content with this hash.
func (s *FileService) existing(ctx context.Context, hash string) (*File, error) {
	files, err := s.FindFiles(ctx, FindQuery{SourceHashes: []string{hash}})
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.Status == StatusUploaded {
			return f, nil
		}
	}
	if len(files) > 0 {
		return files[0], nil
	}
	return nil, fmt.Errorf("perseus: the server said content %s exists, but find does not return it: %w", hash, ErrNotFound)
}

// put sends size bytes of f to the upload URL, retrying what a retry can fix.
// It returns the File the server answered with, if it answered with one.
func (s *FileService) put(ctx context.Context, uploadURL string, f *os.File, size int64, path string, progress func(Progress)) (*File, error) {
	var out *File
	err := s.client.retry.do(ctx, func() (*http.Response, error) {
		var body io.Reader = io.NewSectionReader(f, 0, size)
		if progress != nil {
			body = &progressReader{r: body, p: Progress{Path: path, Total: size}, fn: progress}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, uploadURL, body)
		if err != nil {
			return nil, errors.Join(errNoRetry, err)
		}
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
		req.Header.Set("User-Agent", s.client.userAgent)
		resp, err := s.client.http.Do(req)
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			ue.URL = redact(req.URL) // the query is a credential: keep it out of errors and logs
		}
		return resp, err
	}, func(resp *http.Response) error {
		if err := CheckResponse(resp); err != nil {
			var ae *APIError
			if errors.As(err, &ae) && ae.StatusCode == http.StatusUnprocessableEntity {
				return fmt.Errorf("%w: %w", ErrUploadFailed, err)
			}
			return err
		}
		var f File
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&f) == nil && f.ID != "" {
			out = &f
		}
		return nil
	})
	return out, err
}

type progressReader struct {
	r  io.Reader
	p  Progress
	fn func(Progress)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.p.Sent += int64(n)
		p.fn(p.p)
	}
	return n, err
}
