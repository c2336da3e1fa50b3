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
	name        string
	progress    func(Progress)
	partSize    int64  // the part size aimed for; larger files go in parts
	parallel    int    // parts of one file sent at once
	concurrency int    // files UploadFiles sends at once
	batch       *batch // UploadFiles' totals, if this upload is one of them
	stream      bool   // send new large files before hashing them (WithStream)
}

func newUploadConfig(opts []UploadOption) uploadConfig {
	cfg := uploadConfig{partSize: DefaultPartSize, parallel: DefaultParallelParts, concurrency: 4}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// Progress reports how far one upload is.
type Progress struct {
	Path  string
	Sent  int64 // bytes sent so far; parts the server already had count as sent
	Total int64 // bytes in the file

	// UploadFiles only: the sums over every file it sends (content the
	// server already had is in neither), and, in the last report of each
	// file, Done with the file's outcome.
	BatchSent, BatchTotal int64
	Done                  bool
	Err                   error
}

// WithName sets the file's name instead of the path's base name.
func WithName(name string) UploadOption { return func(c *uploadConfig) { c.name = name } }

// WithProgress calls fn as bytes are sent. fn must be quick; it runs on the
// goroutines of the HTTP transport that write the bodies, several at once
// when parts go in parallel, so it must be safe for concurrent use. When an
// attempt fails, Sent falls back by what that attempt had sent.
func WithProgress(fn func(Progress)) UploadOption { return func(c *uploadConfig) { c.progress = fn } }

// HashFile returns the hex SHA-256 of the file at path and its size, reading it once.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := readAhead(context.Background(), f, func(b []byte) { h.Write(b) })
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
//
// A file larger than the part size (WithPartSize) goes in parts, several at
// once (WithParallelParts), when the server offers multipart uploads (see
// Limits); each part is checked by the store against the SHA-256 computed
// here. Uploading a file again after an interruption sends only the parts
// the server does not hold yet. With WithStream(true), such a file goes
// instead in one request before it is hashed, where the server offers that
// and the caller has no uploaded file of its size: faster, not resumable.
func (s *FileService) UploadFile(ctx context.Context, path string, opts ...UploadOption) (*File, error) {
	cfg := newUploadConfig(append([]UploadOption{WithName(filepath.Base(path))}, opts...))
	if fi, err := os.Stat(path); err == nil && s.streamable(ctx, fi, cfg) {
		if f, ok, err := s.stream(ctx, path, cfg, newTracker(path, fi.Size(), cfg)); ok {
			return f, err
		}
	}
	d, err := s.digest(ctx, path, cfg)
	if err != nil {
		return nil, err
	}
	return s.uploadHashed(ctx, path, d, cfg, newTracker(path, d.size, cfg))
}

func (s *FileService) uploadHashed(ctx context.Context, path string, d digest, cfg uploadConfig, tr *tracker) (*File, error) {
	hash, size := d.hash, d.size
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
	if d.partSize > 0 {
		return s.uploadParts(ctx, path, res.File, d, cfg, tr)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	for refreshed := 0; ; refreshed++ {
		done, err := s.put(ctx, res.UploadURL, f, size, tr)
		var ae *APIError
		switch {
		case err == nil && done != nil && done.ID == res.File.ID:
			return done, nil
		case err == nil:
			return res.File, nil
		case errors.As(err, &ae) && ae.StatusCode == http.StatusForbidden && refreshed < 2:
			// Most likely expired (a slow link, a long retry): creating again
			// returns the same record with a fresh URL.
			if res, err = s.CreateFile(ctx, cfg.name, hash); errors.Is(err, ErrConflict) {
				return s.existing(ctx, hash)
			} else if err != nil {
				return nil, err
			}
		case errors.As(err, &ae) && ae.StatusCode == http.StatusConflict:
			return s.existing(ctx, hash) // someone else's upload of this content won
		case errors.As(err, &ae) && !errors.Is(err, ErrUploadFailed):
			// The contract: any 4xx/5xx answer to the PUT is a failed upload.
			return nil, fmt.Errorf("%w: %w", ErrUploadFailed, err)
		default:
			return nil, err
		}
	}
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

// putSection makes one attempt at PUTting size bytes of f from off to
// target, with headers, through a body of its own that it leaves in *body
// (the attempt before it takes back what it counted as sent).
func (s *FileService) putSection(ctx context.Context, target string, headers map[string]string, f *os.File, off, size int64, tr *tracker, body **fileBody) (*http.Response, error) {
	(*body).undo()
	b, err := openBody(f, off, size, tr)
	if err != nil {
		return nil, errors.Join(errNoRetry, err)
	}
	*body = b
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, b)
	if err != nil {
		b.Close()
		return nil, errors.Join(errNoRetry, err)
	}
	req.ContentLength = size
	if size == 0 {
		b.Close()
		req.Body = http.NoBody
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", s.client.userAgent)
	stop := b.watch()
	resp, err := s.client.http.Do(req)
	stop()
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redact(req.URL) // the query is a credential: keep it out of errors and logs
	}
	return resp, err
}

// put sends size bytes of f to the upload URL, retrying what a retry can fix.
// It returns the File the server answered with, if it answered with one.
func (s *FileService) put(ctx context.Context, uploadURL string, f *os.File, size int64, tr *tracker) (*File, error) {
	var out *File
	var body *fileBody
	err := s.client.retry.do(ctx, func() (*http.Response, error) {
		return s.putSection(ctx, uploadURL, nil, f, 0, size, tr, &body)
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
		body.sent()
		return nil
	})
	if err != nil {
		body.undo()
	}
	return out, err
}
