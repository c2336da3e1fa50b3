package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/perseus-go/perseus/store/meta"
)

// TimeFormat is the contract's createdAt shape: UTC, milliseconds, Z.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// File is the File object of the v0 contract, with our extra fields.
type File struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	CreatedAt  string `json:"createdAt"`
	SourceHash string `json:"sourceHash"`
	Size       int64  `json:"size"`
	UpdatedAt  string `json:"updatedAt"`
	Reason     string `json:"reason,omitempty"`
}

func toFile(f meta.File) File {
	return File{ID: f.ID, Name: f.Name, Status: string(f.Status), CreatedAt: f.CreatedAt.UTC().Format(TimeFormat),
		SourceHash: f.SourceHash, Size: f.Size, UpdatedAt: f.UpdatedAt.UTC().Format(TimeFormat), Reason: f.Reason}
}

func toFiles(fs []meta.File) []File {
	out := make([]File, len(fs))
	for i, f := range fs {
		out[i] = toFile(f)
	}
	return out
}

type createRequest struct {
	Name       *string `json:"name"`
	SourceHash *string `json:"sourceHash"`
}

type createResponse struct {
	File            File   `json:"file"`
	UploadURL       string `json:"uploadUrl"`
	UploadExpiresAt string `json:"uploadExpiresAt"`
	MaxFileSize     int64  `json:"maxFileSize"`
}

type conflictResponse struct {
	*Error
	File File `json:"file"`
}

type findRequest struct {
	IDs          []string `json:"ids"`
	SourceHashes []string `json:"sourceHashes"`
}

type findResponse struct {
	Files []File `json:"files"`
}

const maxJSONBody = 1 << 20

// decode reads one JSON object from r's body into v, answering a person-readable error.
func decode(w http.ResponseWriter, r *http.Request, v any) *Error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return ErrUnsupportedMed
		}
	}
	return decodeBody(w, r, v)
}

// decodeBody reads one JSON value from r's body into v, whatever its
// Content-Type, answering a person-readable error.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *Error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	err := dec.Decode(v)
	if err == nil {
		// Only whitespace may follow, to the end of the body. (dec.More is not
		// enough: it reports false for a stray "}" or "]" and on read errors.)
		var extra json.RawMessage
		var maxErr *http.MaxBytesError
		switch xerr := dec.Decode(&extra); {
		case errors.Is(xerr, io.EOF):
		case errors.As(xerr, &maxErr):
			err = xerr
		default:
			err = errors.New("unexpected data after the JSON object")
		}
	}
	return decodeError(err)
}

func decodeError(err error) *Error {
	var maxErr *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &maxErr):
		return ErrTooLarge.With("the JSON body is larger than %d bytes", maxJSONBody)
	case errors.Is(err, io.EOF):
		return ErrBadRequest.With("the request body is empty; send a JSON object")
	case errors.As(err, &typeErr):
		return ErrBadRequest.With("field %q must be of JSON type %s, not %s", typeErr.Field, jsonType(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return ErrBadRequest.With("the body is not valid JSON: %v (at byte %d)", err, syntaxErr.Offset)
	default:
		return ErrBadRequest.With("the body is not a valid JSON object: %v", err)
	}
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "array"
	case strings.Contains(goType, "string"):
		return "string"
	case strings.HasPrefix(goType, "server."):
		return "object"
	}
	return goType
}

// checkName accepts a name: 1 to 1024 bytes of UTF-8 without control
// characters or backslashes, which may be a relative path: segments
// separated by single slashes, none of them empty, "." or "..", so no
// leading, trailing or doubled slash. It stays a label: the server never
// makes it a path of its own.
func checkName(name *string) *Error {
	if name == nil {
		return ErrInvalidName.With("name is missing; %s", ErrInvalidName.Message)
	}
	n := *name
	if n == "" || len(n) > 1024 || !utf8.ValidString(n) {
		return ErrInvalidName
	}
	for _, r := range n {
		if unicode.IsControl(r) || r == '\\' {
			return ErrInvalidName.With("name contains %q; %s", r, ErrInvalidName.Message)
		}
	}
	for seg := range strings.SplitSeq(n, "/") {
		switch seg {
		case "":
			return ErrInvalidName.With("name %q has an empty path segment (a leading, trailing or doubled /); %s", n, ErrInvalidName.Message)
		case ".", "..":
			return ErrInvalidName.With("name %q has a %q path segment; %s", n, seg, ErrInvalidName.Message)
		}
	}
	return nil
}

// parseWait reads the long-poll duration of ?wait=.
func parseWait(v string) (time.Duration, *Error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		if secs, ok := parseSeconds(v); ok {
			d, err = secs, nil
		}
	}
	if err != nil || d < 0 || d > 60*time.Second {
		return 0, ErrInvalidWait.With("wait=%q: %s", v, ErrInvalidWait.Message)
	}
	return d, nil
}

func parseSeconds(v string) (time.Duration, bool) {
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); err != nil || fmt.Sprint(n) != v {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}
