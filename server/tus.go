package server

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/crc64nvme"
	"github.com/perseus-go/perseus/internal/ingest"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"golang.org/x/exp/slog"
)

// tusBase is where the tus 1.0 endpoint is served.
const tusBase = "/api/v0/tus/"

// tusChecksums are the algorithms of tus's checksum extension this server
// takes in Upload-Checksum.
var tusChecksums = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "md5": md5.New,
	"crc64nvme": func() hash.Hash { return crc64nvme.New() }}

// fileChecksumHeader declares, on a request that may end a resumable
// upload, the CRC-64/NVME of the whole file: "crc64nvme <base64 of its 8
// bytes, big-endian>", as S3 writes x-amz-checksum-crc64nvme. When the
// request's bytes end the upload, they are kept only if the upload's bytes
// all together have it; otherwise the upload is discarded (460
// file_checksum_mismatch). A client that sends a file without hashing it
// (the Go SDK's default) has it checked end to end so. A request that
// does not end the upload is not held to it. The answer to the request
// whose bytes matched it carries the header back, so that a client can
// tell a server that checked from one that ignored it (an older replica),
// and check the file itself then.
const fileChecksumHeader = "Perseus-File-Checksum"

// newTus returns the tus 1.0 endpoint: tusd's protocol handler
// (github.com/tus/tusd/v2/pkg/handler) over a DataStore and a Locker of
// ours, which are the ingest core's resumable uploads. tusd does the
// protocol (creation, creation-with-upload, termination, offsets, HEAD);
// around it, tusRequests authenticates, and adds what tusd does not do:
// the checksum extension, the expiration extension (Upload-Expires), the
// file's id and status, and the API's JSON errors.
func (s *Server) newTus() (http.Handler, error) {
	store := tusStore{s}
	composer := tusd.NewStoreComposer()
	composer.UseCore(store)
	composer.UseTerminater(store)
	composer.UseLocker(tusLocker{s})
	h, err := tusd.NewUnroutedHandler(tusd.Config{
		StoreComposer:           composer,
		BasePath:                strings.TrimSuffix(s.cfg.PublicURL, "/") + tusBase, // absolute behind a proxy: Location is then the public URL
		MaxSize:                 s.core.Limits().MaxFileSize,
		DisableDownload:         true, // GET /api/v0/file/{id}/content serves content
		DisableConcatenation:    true,
		Cors:                    &tusd.CorsConfig{Disable: true}, // the server's own CORS (cors.go) wraps everything
		Logger:                  slog.New(slog.NewTextHandler(io.Discard, nil)),
		PreUploadCreateCallback: store.create,
	})
	if err != nil {
		return nil, err
	}
	// tusd's Middleware answers OPTIONS (discovery, no key needed) and
	// checks Tus-Resumable; every other request needs the API key.
	// tusd takes an upload's id to be the whole path it is given.
	mux := http.NewServeMux()
	strip := func(h http.HandlerFunc) http.Handler {
		return http.StripPrefix(strings.TrimSuffix(tusBase, "/"), s.auth(h))
	}
	mux.Handle("POST "+tusBase+"{$}", strip(h.PostFile))
	mux.Handle("HEAD "+tusBase+"{id}", strip(h.HeadFile))
	mux.Handle("PATCH "+tusBase+"{id}", strip(h.PatchFile))
	mux.Handle("DELETE "+tusBase+"{id}", strip(h.DelFile))
	return s.tusRequests(h.Middleware(mux)), nil
}

// exchange is what one tus request's DataStore calls tell the answer,
// beyond tusd's own headers; tusRequests keeps it in the request's context.
type exchange struct {
	method  string // the request's
	rc      *http.ResponseController
	checks  ingest.Checks // from Upload-Checksum and Perseus-File-Checksum
	locked  bool          // the upload's lock is held
	expires string        // Upload-Expires
	fileID  string        // Perseus-File-Id
	status  string        // Perseus-File-Status, once finished
	// Perseus-File-Checksum: as the request declared it, and once the
	// upload's bytes matched it (echoed in the answer).
	declared, checked string
}

type exchangeKey struct{}

// exchangeOf returns the request's exchange (a throwaway one outside
// tusRequests).
func exchangeOf(ctx context.Context) *exchange {
	if x, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		return x
	}
	return &exchange{}
}

// saw notes r as the upload the answer is about.
func (x *exchange) saw(r ingest.Resumable) {
	if r.FileID == "" {
		x.expires = httpDate(r.Expires)
		x.fileID = r.ID
		return
	}
	x.expires, x.fileID = "", r.FileID
}

// finishTimeout bounds writing the answer of a request that finishes an
// upload: recording and settling the file may take minutes (on S3, the
// store completes the upload and copies it), longer than tusd's write
// deadline, and the client must get its verdict.
const finishTimeout = 30 * time.Minute

// finishing extends the answer's write deadline for a finish.
func (x *exchange) finishing() {
	if x.rc != nil {
		x.rc.SetWriteDeadline(time.Now().Add(finishTimeout))
	}
}

// tenantOfCtx returns the tenant auth resolved, from a context derived
// from the request's.
func tenantOfCtx(ctx context.Context) string {
	t, _ := ctx.Value(ctxKey{}).(string)
	return t
}

// tusRequests reads Upload-Checksum into the request's exchange, and adds
// to the answer what the exchange holds: Upload-Expires, Perseus-File-Id,
// Perseus-File-Status, and the extensions tusd does not know it has
// (checksum, expiration) in Tus-Extension.
func (s *Server) tusRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := &exchange{method: r.Method, rc: http.NewResponseController(w)}
		if v := r.Header.Get("Upload-Checksum"); v != "" && r.Method != http.MethodOptions {
			check, e := parseChecksum(v)
			if e != nil {
				w.Header().Set("Tus-Resumable", "1.0.0")
				writeError(w, e)
				return
			}
			x.checks.Chunk = check
		}
		if v := r.Header.Get(fileChecksumHeader); v != "" && (r.Method == http.MethodPatch || r.Method == http.MethodPost) {
			crc, e := parseFileChecksum(v)
			if e != nil {
				w.Header().Set("Tus-Resumable", "1.0.0")
				writeError(w, e)
				return
			}
			x.checks.FileCRC64, x.declared = &crc, strings.TrimSpace(v)
		}
		tw := &tusWriter{ResponseWriter: w, x: x}
		next.ServeHTTP(tw, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
	})
}

// parseChecksum reads Upload-Checksum: "<algorithm> <base64 digest>".
func parseChecksum(v string) (*ingest.Checksum, *Error) {
	algo, b64, ok := strings.Cut(strings.TrimSpace(v), " ")
	newHash, known := tusChecksums[strings.ToLower(algo)]
	if !ok || !known {
		return nil, ErrChecksumAlgo.With("Upload-Checksum %q: %s", v, ErrChecksumAlgo.Message)
	}
	sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(sum) != newHash().Size() {
		return nil, ErrChecksumAlgo.With("Upload-Checksum %q: the digest is not the base64 of a %s sum; %s", v, algo, ErrChecksumAlgo.Message)
	}
	return &ingest.Checksum{Algorithm: strings.ToLower(algo), New: newHash, Sum: sum}, nil
}

// parseFileChecksum reads Perseus-File-Checksum: "crc64nvme <base64>".
// Upload-Checksum's form, one algorithm.
func parseFileChecksum(v string) (uint64, *Error) {
	c, e := parseChecksum(v)
	if e != nil || c.Algorithm != "crc64nvme" {
		return 0, ErrFileChecksumHeader.With("%s %q: %s", fileChecksumHeader, v, ErrFileChecksumHeader.Message)
	}
	return binary.BigEndian.Uint64(c.Sum), nil
}

// tusWriter adds the exchange's headers to tusd's answer as it is written,
// and turns tusd's own errors (text: "ERR_CODE: message") into the API's
// JSON errors, with what to do where tusd's message does not say.
type tusWriter struct {
	http.ResponseWriter
	x       *exchange
	wrote   bool
	convert bool // the body is a tusd error, to be written as JSON
}

// tusHints add what to do to tusd's own error messages.
var tusHints = map[string]string{
	"unsupported_version":   "send Tus-Resumable: 1.0.0 with every request but OPTIONS: this endpoint speaks tus 1.0",
	"mismatched_offset":     "Upload-Offset must be the offset the server holds: HEAD the upload and resume from its Upload-Offset",
	"invalid_offset":        "send Upload-Offset: the offset the server holds (HEAD the upload)",
	"invalid_content_type":  "send the bytes with Content-Type: application/offset+octet-stream",
	"invalid_upload_length": "send Upload-Length: the file's size in bytes (this server does not take uploads of unknown length)",
	"upload_size_exceeded":  "the bytes go past the Upload-Length declared at creation",
	"max_size_exceeded":     "the file is larger than this server takes (Tus-Max-Size)",
	"lock_timeout":          "another request is working on this upload; retry in a moment",
	"upload_interrupted":    "another request for this upload took it over; HEAD it and resume from its offset",
}

func (t *tusWriter) WriteHeader(status int) {
	if !t.wrote {
		t.wrote = true
		h := t.Header()
		if status >= 400 && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.convert = true
			h.Del("Content-Length")
			h.Set("Content-Type", "application/json")
		}
		if ext := h.Get("Tus-Extension"); ext != "" {
			h.Set("Tus-Extension", ext+",checksum,expiration")
			h.Set("Tus-Checksum-Algorithm", "sha1,sha256,md5,crc64nvme")
		}
		if t.x.expires != "" && status < 300 {
			h.Set("Upload-Expires", t.x.expires)
		}
		if t.x.fileID != "" && status < 300 {
			h.Set("Perseus-File-Id", t.x.fileID)
		}
		if t.x.status != "" {
			h.Set("Perseus-File-Status", t.x.status)
		}
		if t.x.checked != "" && status < 300 {
			h.Set(fileChecksumHeader, t.x.checked)
		}
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *tusWriter) Write(b []byte) (int, error) {
	if !t.wrote {
		t.WriteHeader(http.StatusOK)
	}
	if t.convert {
		code, msg, _ := strings.Cut(strings.TrimSpace(string(b)), ": ")
		code = strings.ToLower(strings.TrimPrefix(code, "ERR_"))
		if hint := tusHints[code]; hint != "" {
			msg += ": " + hint
		}
		body, _ := jsonBody(&Error{Code: code, Message: msg})
		if _, err := io.WriteString(t.ResponseWriter, body); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (tusd's deadlines) reach the
// underlying writer.
func (t *tusWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// jsonBody is e as the API writes an error's body.
func jsonBody(e *Error) (string, error) {
	b, err := json.Marshal(e)
	return string(b) + "\n", err
}
