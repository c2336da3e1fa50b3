package perseus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotFound: the file does not exist (or is not the caller's).
	ErrNotFound = errors.New("perseus: not found")
	// ErrConflict: the content is already uploaded (create answered 409).
	ErrConflict = errors.New("perseus: conflict")
	// ErrUnauthorized: the API key is missing, unknown or revoked.
	ErrUnauthorized = errors.New("perseus: unauthorized")
	// ErrUploadFailed: the file ended in status failed, or its bytes were refused.
	ErrUploadFailed = errors.New("perseus: upload failed")
	// ErrTimeout: WaitForFileUpload gave up before the file was final.
	ErrTimeout = errors.New("perseus: timed out waiting for the file")
	// ErrFileChanged: the file changed while UploadFile sent it in order
	// (before hashing it); nothing was recorded.
	ErrFileChanged = errors.New("perseus: the file changed while it was sent")
	// ErrChecksum: downloaded bytes do not hash to the file's SHA-256.
	ErrChecksum = errors.New("perseus: downloaded content does not match its SHA-256")
)

// APIError is a non-2xx answer of the Perseus API.
type APIError struct {
	StatusCode int    // HTTP status
	Code       string // stable machine code, when the server sends one
	Message    string // what went wrong, for a person
	Method     string
	URL        string
	RequestID  string // the server's X-Request-Id for the request, to find it in its logs
	// RetryAfter is how long the server asked to wait before trying again
	// (Retry-After), or 0.
	RetryAfter time.Duration
}

// Error says which request failed, with its status and the server's message.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	if e.RequestID != "" {
		return fmt.Sprintf("perseus: %s %s: %d %s (request id %s)", e.Method, e.URL, e.StatusCode, msg, e.RequestID)
	}
	return fmt.Sprintf("perseus: %s %s: %d %s", e.Method, e.URL, e.StatusCode, msg)
}

// Is lets errors.Is match an APIError against the sentinels by its status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone
	case ErrConflict: // not the tus endpoint's own 409s, which say nothing of content
		return e.StatusCode == http.StatusConflict && e.Code != "mismatched_offset" && e.Code != "file_checksum_unavailable"
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrUploadFailed: // 460: bytes refused for not matching their checksum (tus)
		return e.StatusCode == http.StatusUnprocessableEntity || e.StatusCode == 460
	}
	return false
}

// CheckResponse returns nil for a 2xx answer and an *APIError otherwise,
// carrying the server's message.
func CheckResponse(resp *http.Response) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	e := &APIError{StatusCode: resp.StatusCode, Method: resp.Request.Method, URL: redact(resp.Request.URL),
		RequestID: resp.Header.Get("X-Request-Id"), RetryAfter: retryAfter(resp)}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	if json.Unmarshal(data, &body) == nil && body.Message != "" {
		e.Message, e.Code = body.Message, body.Code
	} else if s := strings.TrimSpace(string(data)); s != "" && len(s) < 512 {
		e.Message = s // e.g. an S3 XML error or a proxy's text
	}
	return e
}

// redact drops the query of upload URLs: it is a credential.
func redact(u *url.URL) string {
	c := *u
	if c.RawQuery != "" {
		c.RawQuery = "…"
	}
	return c.String()
}

// unsupported reports whether err says the server lacks an endpoint (as
// opposed to lacking the file).
func unsupported(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.StatusCode {
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return true
	case http.StatusNotFound:
		return ae.Code != "file_not_found"
	}
	return false
}

// FileFailedError is returned when a file ends in status failed.
type FileFailedError struct {
	File *File
}

// Error says which file failed, and why when the server said.
func (e *FileFailedError) Error() string {
	if e.File.Reason != "" {
		return fmt.Sprintf("perseus: file %s failed: %s", e.File.ID, e.File.Reason)
	}
	return fmt.Sprintf("perseus: file %s failed", e.File.ID)
}

// Is matches ErrUploadFailed.
func (e *FileFailedError) Is(target error) bool { return target == ErrUploadFailed }

// localError is an error of reading a local file for a request's body (a
// file removed or cut short since it was hashed): sending the request
// again would fail the same way, so do returns it at once.
type localError struct{ err error }

func (e localError) Error() string { return e.err.Error() }
func (e localError) Unwrap() error { return e.err }

// isLocal reports whether err is a localError.
func isLocal(err error) bool {
	var le localError
	return errors.As(err, &le)
}
