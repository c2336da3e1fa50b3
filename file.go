package perseus

import (
	"context"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// Status is the state of a file.
type Status string

// The states of a file.
const (
	StatusPending  Status = "pending"  // the record exists; its content is not verified yet
	StatusUploaded Status = "uploaded" // the content is stored and its SHA-256 verified
	StatusFailed   Status = "failed"   // the upload did not produce the declared content
)

// File is a file record as the API returns it.
type File struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Status     Status    `json:"status"`
	CreatedAt  time.Time `json:"createdAt"`
	SourceHash string    `json:"sourceHash,omitempty"`
	Size       int64     `json:"size,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt,omitzero"`
	Reason     string    `json:"reason,omitempty"` // why it failed, when it did
}

// CreateFileResult is the answer to CreateFile: the record and where to PUT its bytes.
type CreateFileResult struct {
	File            *File     `json:"file"`
	UploadURL       string    `json:"uploadUrl"`
	UploadExpiresAt time.Time `json:"uploadExpiresAt,omitzero"`
	MaxFileSize     int64     `json:"maxFileSize,omitempty"`
}

// FindQuery selects files by id and/or SHA-256; a file matching either is returned.
type FindQuery struct {
	IDs          []string `json:"ids,omitempty"`
	SourceHashes []string `json:"sourceHashes,omitempty"`
}

// FileService is the file API: client.File.
type FileService struct {
	client *Client
	limits limitsCache
	// noBatchContent is set once a server that said batchContent turned
	// out not to route it: UploadFiles PUTs each file from then on.
	noBatchContent atomic.Bool
	// noTus is set once a proxy refused the tus endpoint (uploadResumable
	// returned errNotTus): large files go in parts from then on.
	noTus atomic.Bool
}

// CreateFile creates a file record for content with this SHA-256 (64 hex
// characters) and returns it with a presigned upload URL. If that content is
// already uploaded, the error matches ErrConflict.
func (s *FileService) CreateFile(ctx context.Context, name, sourceHash string) (*CreateFileResult, error) {
	var res CreateFileResult
	body := map[string]string{"name": name, "sourceHash": sourceHash}
	if err := s.client.call(ctx, http.MethodPost, "/api/v0/file", body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// FindFiles returns the caller's files whose id is in q.IDs or whose hash is
// in q.SourceHashes, each once; an empty slice when nothing matches.
func (s *FileService) FindFiles(ctx context.Context, q FindQuery) ([]*File, error) {
	var res struct {
		Files []*File `json:"files"`
	}
	if err := s.client.call(ctx, http.MethodPost, "/api/v0/file/find", q, &res); err != nil {
		return nil, err
	}
	if res.Files == nil {
		res.Files = []*File{}
	}
	return res.Files, nil
}

// FindFile returns the file with this id, or nil and no error when there is none.
func (s *FileService) FindFile(ctx context.Context, id string) (*File, error) {
	files, err := s.FindFiles(ctx, FindQuery{IDs: []string{id}})
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.ID == id {
			return f, nil
		}
	}
	return nil, nil
}

// DeleteFile deletes the file with this id; its content goes once nothing
// refers to it. An unknown id matches ErrNotFound.
func (s *FileService) DeleteFile(ctx context.Context, id string) error {
	return s.client.call(ctx, http.MethodDelete, "/api/v0/file/"+url.PathEscape(id), nil, nil)
}

// getFile reads one file, holding the request up to wait for a final status
// (a long poll) on servers that offer it.
func (s *FileService) getFile(ctx context.Context, id string, wait time.Duration) (*File, error) {
	var f File
	path := "/api/v0/file/" + url.PathEscape(id)
	if wait > 0 {
		path += "?wait=" + url.QueryEscape(wait.String())
	}
	if err := s.client.call(ctx, http.MethodGet, path, nil, &f); err != nil {
		return nil, err
	}
	return &f, nil
}
