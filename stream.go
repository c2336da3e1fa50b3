package perseus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
)

// WithStream(true) sends a new file larger than the part size before it is
// hashed, where the server offers that (Limits.StreamMaxSize): the server
// hashes the bytes as they arrive, so the file is read once, not twice, and
// hashing overlaps sending. It is off by default because a stream is not
// resumable: if it fails, UploadFile starts over the usual way (hash, then
// parts), and an upload run again after the process died sends the whole
// file again, where parts send only what is missing.
func WithStream(on bool) UploadOption { return func(c *uploadConfig) { c.stream = on } }

// streamable reports whether a file of fi may be tried with stream: larger
// than the part size, and within the server's StreamMaxSize.
func (s *FileService) streamable(ctx context.Context, fi os.FileInfo, cfg uploadConfig) bool {
	if !cfg.stream || fi.Size() <= cfg.partSize || !fi.Mode().IsRegular() {
		return false
	}
	l, err := s.Limits(ctx) // an error shows again, on the usual way
	return err == nil && l.StreamMaxSize > 0 && fi.Size() <= l.StreamMaxSize
}

// streamAnswer is what POST /api/v0/file/stream answers.
type streamAnswer struct {
	File     *File `json:"file"`
	Existing bool  `json:"existing"`
}

// stream tries to send the file at path before hashing it (POST
// /api/v0/file/stream): for a file larger than the part size, within the
// server's StreamMaxSize; tr counts what it sends. The request says
// Expect: 100-continue: a server where the caller has an uploaded file of
// the same size answers 409 hash_first before the body goes, since that
// content may be there, and the caller then hashes first and sends
// nothing the server has.
//
// ok is false when the caller should upload the usual way: the server does
// not offer it, refused it so, or the request failed in a way a hashed
// upload may get past (it retries and resumes, which this request does
// not). An error with ok true is final.
func (s *FileService) stream(ctx context.Context, path string, cfg uploadConfig, tr *tracker) (f *File, ok bool, err error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, true, err
	}
	defer fd.Close()
	before, err := fd.Stat()
	if err != nil {
		return nil, true, err
	}
	size := before.Size()
	if !s.streamable(ctx, before, cfg) {
		return nil, false, nil
	}
	body, err := openBody(fd, 0, size, tr)
	if err != nil {
		return nil, false, nil
	}
	target := s.client.endpoint("/api/v0/file/stream") + "?name=" + url.QueryEscape(cfg.name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body) // the transport closes body
	if err != nil {
		body.Close()
		return nil, true, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Expect", "100-continue")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", s.client.userAgent)
	if s.client.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+s.client.apiKey)
	}
	stop := body.watch()
	resp, err := s.client.http.Do(req)
	stop()
	if err != nil {
		body.undo()
		if ctx.Err() != nil {
			return nil, true, err
		}
		return nil, false, nil
	}
	defer resp.Body.Close()
	if err := CheckResponse(resp); err != nil {
		body.undo()
		var ae *APIError
		errors.As(err, &ae)
		switch {
		case ae.StatusCode == http.StatusConflict && ae.Code == "hash_first",
			ae.StatusCode == http.StatusNotFound, ae.StatusCode == http.StatusMethodNotAllowed,
			ae.StatusCode == http.StatusLengthRequired, ae.StatusCode == http.StatusRequestEntityTooLarge,
			ae.StatusCode >= 500 || ae.StatusCode == http.StatusTooManyRequests:
			return nil, false, nil
		}
		return nil, true, err
	}
	var a streamAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&a); err != nil || a.File == nil || a.File.ID == "" {
		return nil, true, fmt.Errorf("perseus: stream %s: the server answered %d without a file", path, resp.StatusCode)
	}
	body.sent()
	if a.Existing {
		return a.File, true, nil
	}
	// The server recorded what it received. If the file changed meanwhile,
	// that may be a mix of two versions: drop it and say so.
	if after, err := fd.Stat(); err != nil || !os.SameFile(before, after) || after.Size() != size ||
		!after.ModTime().Equal(before.ModTime()) || a.File.Size != size {
		what := "the file the server recorded (" + a.File.ID + ") was deleted"
		derr := s.DeleteFile(context.WithoutCancel(ctx), a.File.ID)
		if derr != nil {
			what = "deleting the file the server recorded (" + a.File.ID + ") failed: delete it yourself"
		}
		return nil, true, errors.Join(fmt.Errorf("perseus: %s changed while it was being sent; %s; upload it again", path, what), derr)
	}
	return a.File, true, nil
}
