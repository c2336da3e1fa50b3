package perseus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// NewFile is one file of CreateFiles: its name and the SHA-256 of its
// content (64 hex characters), as CreateFile takes them.
type NewFile struct {
	Name       string `json:"name"`
	SourceHash string `json:"sourceHash"`
}

// CreateFilesResult is what CreateFiles got for one NewFile: what
// CreateFile would have returned for it alone.
type CreateFilesResult struct {
	// CreateFileResult is the record and where to PUT its bytes when Err
	// is nil. When Err matches ErrConflict (the content is uploaded), File
	// is that uploaded file, if the server said which.
	CreateFileResult
	// Err is this file's refusal, an *APIError as CreateFile's would be:
	// its StatusCode, Code and Message are those of a single create.
	Err error
}

// CreateFiles creates a record for each of files, as CreateFile does, and
// returns one result per file, in order. Where the server offers batch
// creates (Limits.BatchCreate), it asks for up to that many files in one
// request; elsewhere it calls CreateFile for each in turn. Each file's
// refusal is its result's Err; the error is for a request that got no
// answer about its files (the server unreachable, a batch refused whole),
// and then the files of the requests before it may have been created.
func (s *FileService) CreateFiles(ctx context.Context, files []NewFile) ([]CreateFilesResult, error) {
	l, err := s.Limits(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]CreateFilesResult, 0, len(files))
	for len(files) > 0 {
		n := len(files)
		if l.BatchCreate > 0 {
			n = min(n, l.BatchCreate)
		}
		res, err := s.createFiles(ctx, files[:n], l.BatchCreate)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
		files = files[n:]
	}
	return out, nil
}

// createFiles creates files, at most batchCreate of them, in one batch
// create where batchCreate > 0 and the server takes it, else one by one.
func (s *FileService) createFiles(ctx context.Context, files []NewFile, batchCreate int) ([]CreateFilesResult, error) {
	if batchCreate > 0 {
		res, err := s.createBatch(ctx, files)
		if !unsupported(err) {
			return res, err
		}
		// A server (or a proxy before it) that says batchCreate but does
		// not route it: the files go one by one, as to any v0 server.
	}
	out := make([]CreateFilesResult, len(files))
	for i, f := range files {
		res, err := s.CreateFile(ctx, f.Name, f.SourceHash)
		var ae *APIError
		switch {
		case err == nil:
			out[i].CreateFileResult = *res
		case errors.As(err, &ae):
			out[i].Err = err
		default:
			return nil, err
		}
	}
	return out, nil
}

// batchItem is one result of POST /api/v0/file/batch: a status and the
// body a single create would have answered.
type batchItem struct {
	Status int `json:"status"`
	CreateFileResult
	Code    string `json:"code"`
	Message string `json:"message"`
}

// createBatch creates files in one POST /api/v0/file/batch.
func (s *FileService) createBatch(ctx context.Context, files []NewFile) ([]CreateFilesResult, error) {
	const path = "/api/v0/file/batch"
	var ans struct {
		Results []batchItem `json:"results"`
	}
	var requestID string
	r := request{method: http.MethodPost, path: path, body: map[string][]NewFile{"files": files},
		header: map[string]string{"Accept": "application/json"}}
	err := s.client.do(ctx, r, func(resp *http.Response) error {
		requestID = resp.Header.Get("X-Request-Id")
		if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
			return fmt.Errorf("perseus: decode POST %s answer: %w", path, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ans.Results) != len(files) {
		return nil, fmt.Errorf("perseus: POST %s answered %d results for %d files", path, len(ans.Results), len(files))
	}
	out := make([]CreateFilesResult, len(files))
	for i, it := range ans.Results {
		out[i].CreateFileResult = it.CreateFileResult
		if it.Status/100 != 2 {
			out[i].UploadURL = ""
			out[i].Err = &APIError{StatusCode: it.Status, Code: it.Code, Message: it.Message,
				Method: http.MethodPost, URL: s.client.endpoint(path), RequestID: requestID}
		} else if it.File == nil || it.UploadURL == "" {
			out[i].Err = fmt.Errorf("perseus: POST %s answered %d for %s without a file or an uploadUrl", path, it.Status, files[i].Name)
		}
	}
	return out, nil
}
