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
	a, ok, err := s.postStream(ctx, path, section{fd, 0, size, tr}, cfg)
	if !ok || err != nil {
		return nil, ok, err
	}
	if a.Existing {
		return a.File, true, nil
	}
	// The server recorded what it received. If the file changed meanwhile,
	// that may be a mix of two versions: drop it and say so.
	if after, err := fd.Stat(); err != nil || !sameVersion(before, after) || a.File.Size != size {
		what := "the file the server recorded (" + a.File.ID + ") was deleted"
		derr := s.DeleteFile(context.WithoutCancel(ctx), a.File.ID)
		if derr != nil {
			what = "deleting the file the server recorded (" + a.File.ID + ") failed: delete it yourself"
		}
		return nil, true, errors.Join(fmt.Errorf("perseus: %s changed while it was being sent; %s; upload it again", path, what), derr)
	}
	return a.File, true, nil
}

// postStream sends body (a section of a file, or a readerBody) to POST
// /api/v0/file/stream as the file cfg.name; what names the content in
// errors. ok is false when the caller should upload the usual way, as for
// stream; an error with ok true is final.
func (s *FileService) postStream(ctx context.Context, what string, body any, cfg uploadConfig) (a streamAnswer, ok bool, err error) {
	r := request{
		method: http.MethodPost,
		path:   "/api/v0/file/stream?name=" + url.QueryEscape(cfg.name),
		body:   body,
		header: map[string]string{"Content-Type": "application/octet-stream", "Expect": "100-continue", "Accept": "application/json"},
		once:   true, // a failure falls back to the usual way, which retries and resumes
	}
	answered := false
	err = s.client.do(ctx, r, func(resp *http.Response) error {
		answered = true
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&a); err != nil || a.File == nil || a.File.ID == "" {
			return fmt.Errorf("perseus: stream %s: the server answered %d without a file", what, resp.StatusCode)
		}
		return nil
	})
	var ae *APIError
	switch {
	case err == nil:
		return a, true, nil
	case errors.As(err, &ae):
		if declined(ae) {
			return a, false, nil
		}
		return a, true, err
	case answered || ctx.Err() != nil:
		return a, true, err
	default: // no answer: a hashed upload, which retries, may get past what failed
		return a, false, nil
	}
}

// declined reports whether the server answered a stream in a way that
// sends the caller the usual way: it does not offer streams, or not for
// this file (409 hash_first: content of its size may be there already),
// or it failed in a way a hashed upload, which retries, may get past.
func declined(ae *APIError) bool {
	switch {
	case ae.StatusCode == http.StatusConflict && ae.Code == "hash_first",
		ae.StatusCode == http.StatusNotFound, ae.StatusCode == http.StatusMethodNotAllowed,
		ae.StatusCode == http.StatusLengthRequired, ae.StatusCode == http.StatusRequestEntityTooLarge,
		ae.StatusCode >= 500 || ae.StatusCode == http.StatusTooManyRequests:
		return true
	}
	return false
}
