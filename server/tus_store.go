package server

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/perseus-go/perseus/internal/ingest"
	tusd "github.com/tus/tusd/v2/pkg/handler"
)

// tusStore is tusd's DataStore over the ingest core: it translates, the
// core decides (ingest/resumable*.go). The tenant comes from the request's
// context (auth), so another tenant's upload is not found.
type tusStore struct{ s *Server }

// tusUpload is one resumable upload as tusd handles it in one request.
type tusUpload struct {
	s *Server
	r ingest.Resumable
}

// create begins every upload, as tusd's pre-create hook: the upload of a
// new file, named by the metadata filename (or name, as Uppy sends it),
// bound to the hash in sha256 when the client gives one. Content the
// tenant has already is answered here, 201 with the upload whole at once
// and the existing file's id, before tusd would read a byte of a
// creation-with-upload's body; otherwise tusd goes on with the id chosen
// here (NewUpload). A client that sends while it hashes asks, with
// Perseus-Hash-First: same-size and no sha256, to be refused (409
// hash_first) when the caller has an uploaded file of that size.
func (t tusStore) create(hook tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	ctx, info := hook.Context, hook.Upload
	name, sum, err := tusFileMeta(info.MetaData)
	if err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, err
	}
	if n := len(hook.HTTPRequest.Header.Get("Upload-Metadata")); n > maxTusMetadata {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusAnswer(ErrTusMetadata.With("Upload-Metadata is %d bytes; at most %d are kept with an upload", n, maxTusMetadata))
	}
	if info.SizeIsDeferred {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusAnswer(ErrLengthRequired.With("send Upload-Length: this server does not take uploads of unknown length"))
	}
	// tusd ends an empty upload here, with no chunk for WriteChunk to check.
	if x := exchangeOf(ctx); info.Size == 0 && x.checks.FileCRC64 != nil {
		if err := ingest.CheckEmpty(info.Size, x.checks); err != nil {
			return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusError(ctx, t.s, "create", err)
		}
		x.checked = x.declared
	}
	hashFirst := strings.EqualFold(strings.TrimSpace(hook.HTTPRequest.Header.Get(hashFirstHeader)), "same-size")
	r, err := t.s.core.CreateResumable(ctx, tenantOfCtx(ctx), info.Size, name, sum, info.MetaData, hashFirst)
	if err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusError(ctx, t.s, "create", err)
	}
	exchangeOf(ctx).saw(r)
	if r.Done() {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusd.Error{ErrorCode: "KNOWN_CONTENT", Message: "content already uploaded",
			HTTPResponse: tusd.HTTPResponse{StatusCode: http.StatusCreated, Header: tusd.HTTPHeader{
				"Location": t.s.tusLocation(hook.HTTPRequest, r.ID), "Upload-Offset": strconv.FormatInt(r.Size, 10), "Tus-Resumable": "1.0.0",
			}}}
	}
	return tusd.HTTPResponse{}, tusd.FileInfoChanges{ID: r.ID}, nil
}

// NewUpload implements tusd.DataStore: the upload create began.
func (t tusStore) NewUpload(ctx context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	r, err := t.s.core.Resumable(ctx, tenantOfCtx(ctx), info.ID)
	if err != nil {
		return nil, tusError(ctx, t.s, "create", err)
	}
	return &tusUpload{t.s, r}, nil
}

// GetUpload implements tusd.DataStore. An upload whose bytes have all
// arrived but which is not finished (its finish failed: a store was down,
// or the process stopped) is finished now, under the lock tusd holds, so
// that a client's HEAD or PATCH after the failure gets its verdict (not a
// DELETE: a client ending the upload wants no file made of it).
func (t tusStore) GetUpload(ctx context.Context, id string) (tusd.Upload, error) {
	r, err := t.s.core.Resumable(ctx, tenantOfCtx(ctx), id)
	if err != nil {
		return nil, tusError(ctx, t.s, "find upload", err)
	}
	u := &tusUpload{t.s, r}
	if x := exchangeOf(ctx); r.Offset == r.Size && !r.Done() && x.locked && (x.method == http.MethodHead || x.method == http.MethodPatch) {
		if err := u.FinishUpload(ctx); err != nil {
			return nil, err
		}
	}
	exchangeOf(ctx).saw(u.r)
	return u, nil
}

// AsTerminatableUpload implements tusd.TerminaterDataStore.
func (t tusStore) AsTerminatableUpload(u tusd.Upload) tusd.TerminatableUpload { return u.(*tusUpload) }

// GetInfo implements tusd.Upload. The metadata the client sent comes back
// with fileId: the file the upload is for, or, once finished, the file
// it became (another, when that content was there already).
func (u *tusUpload) GetInfo(context.Context) (tusd.FileInfo, error) {
	md := tusd.MetaData{}
	for k, v := range u.r.Meta {
		md[k] = v
	}
	md["fileId"] = u.fileID()
	return tusd.FileInfo{ID: u.r.ID, Size: u.r.Size, Offset: u.r.Offset, MetaData: md}, nil
}

// fileID is the file the upload is, or will be unless its content is
// found to be there already.
func (u *tusUpload) fileID() string {
	if u.r.FileID != "" {
		return u.r.FileID
	}
	return u.r.ID
}

// WriteChunk implements tusd.Upload: the bytes go into the store hashed,
// checked against the request's Upload-Checksum when it has one, and,
// when they end the upload, against its Perseus-File-Checksum.
func (u *tusUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	if offset != u.r.Offset {
		return 0, tusd.ErrMismatchOffset
	}
	x := exchangeOf(ctx)
	r, n, err := u.s.core.WriteResumable(ctx, u.r, src, x.checks)
	u.r = r
	x.saw(r)
	if err != nil {
		return n, tusError(ctx, u.s, "write", err)
	}
	if x.checks.FileCRC64 != nil && r.Offset == r.Size {
		x.checked = x.declared // the core kept the last bytes: the upload's all have that CRC
	}
	return n, nil
}

// GetReader implements tusd.Upload; downloads go through the file API
// (GET /api/v0/file/{id}/content), so tusd's own is turned off.
func (u *tusUpload) GetReader(context.Context) (io.ReadCloser, error) {
	return nil, tusd.ErrNotImplemented
}

// FinishUpload implements tusd.Upload: the file is recorded under its
// hash and verified (ingest.Core.FinishResumable); the answer carries its
// id and status (Perseus-File-Id, Perseus-File-Status).
func (u *tusUpload) FinishUpload(ctx context.Context) error {
	x := exchangeOf(ctx)
	x.finishing() // a finish may outlast tusd's write deadline (S3: complete and copy)
	r, f, _, err := u.s.core.FinishResumable(ctx, u.r)
	u.r = r
	x.saw(r)
	if f.ID != "" {
		x.fileID, x.status = f.ID, string(f.Status)
	}
	if err != nil {
		return tusError(ctx, u.s, "finish", err)
	}
	return nil
}

// Terminate implements tusd.TerminatableUpload: the upload ends and its
// bytes are discarded; a file it became stays.
func (u *tusUpload) Terminate(ctx context.Context) error {
	if err := u.s.core.DeleteResumable(ctx, u.r.Tenant, u.r.ID); err != nil {
		return tusError(ctx, u.s, "terminate", err)
	}
	return nil
}

// tusFileMeta reads a new upload's name and declared hash from its
// metadata: the name from filename, or name; the hash from sha256, in hex
// or in base64 (as tus checksums are written).
func tusFileMeta(md tusd.MetaData) (name, sum string, err error) {
	name = md["filename"]
	if name == "" {
		name = md["name"]
	}
	if name != "" {
		if e := checkName(&name); e != nil {
			return "", "", tusAnswer(e.With("Upload-Metadata filename: %s", e.Message))
		}
	}
	sum = md["sha256"]
	if sum != "" && len(sum) != 64 {
		b, err := base64.StdEncoding.DecodeString(sum)
		if err != nil || len(b) != 32 {
			return "", "", tusAnswer(ErrTusMetadata)
		}
		sum = hex.EncodeToString(b)
	}
	return name, sum, nil
}

// tusError turns an error of the core into tusd's: the API's answer
// (status, code and message as JSON), or for a backend's own failure a
// 503 with the details in the log.
func tusError(ctx context.Context, s *Server, op string, err error) error {
	var te tusd.Error
	if errors.As(err, &te) {
		return err
	}
	if errors.Is(err, ingest.ErrUploadNotFound) {
		return tusAnswer(ErrTusNotFound)
	}
	if e := answerOf(err); e != nil {
		return tusAnswer(e)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	s.cfg.Logger.ErrorContext(ctx, "store failure", "op", "tus "+op, "err", err)
	return tusAnswer(ErrUnavailable.With("%s failed: a storage backend is unavailable; retry later", op))
}

// tusAnswer is e as tusd sends an error: its status, and the API's JSON
// body.
func tusAnswer(e *Error) tusd.Error {
	body, _ := jsonBody(e)
	return tusd.Error{ErrorCode: e.Code, Message: e.Message, HTTPResponse: tusd.HTTPResponse{
		StatusCode: e.Status, Body: body, Header: tusd.HTTPHeader{"Content-Type": "application/json"},
	}}
}

// tusLocker is tusd's Locker over the core's (ingest.Core.LockResumable),
// which holds across replicas where the metadata store does.
type tusLocker struct{ s *Server }

// tusLock is the lock of one upload, taken by one request.
type tusLock struct {
	s      *Server
	id     string
	unlock func() error
}

// NewLock implements tusd.Locker.
func (l tusLocker) NewLock(id string) (tusd.Lock, error) { return &tusLock{s: l.s, id: id}, nil }

// Lock implements tusd.Lock. The tenant is the request's: ctx is derived
// from it.
func (l *tusLock) Lock(ctx context.Context, requestUnlock func()) error {
	unlock, err := l.s.core.LockResumable(ctx, tenantOfCtx(ctx), l.id, requestUnlock)
	if err != nil {
		if ctx.Err() != nil {
			return tusd.ErrLockTimeout
		}
		return tusError(ctx, l.s, "lock", err)
	}
	l.unlock = unlock
	exchangeOf(ctx).locked = true
	return nil
}

// Unlock implements tusd.Lock.
func (l *tusLock) Unlock() error {
	if l.unlock == nil {
		return nil
	}
	return l.unlock()
}

// hashFirstHeader opts a tus creation without a sha256 into 409
// hash_first when the caller has an uploaded file of its size; its one
// value is same-size, and any other asks nothing.
const hashFirstHeader = "Perseus-Hash-First"

// maxTusMetadata bounds Upload-Metadata: it is kept with the upload,
// rewritten with each request's bytes and echoed by every HEAD.
const maxTusMetadata = 4 << 10

// tusLocation is the URL of upload id: under Config.PublicURL where set
// (behind a proxy), otherwise of the request's host, as tusd makes it.
func (s *Server) tusLocation(r tusd.HTTPRequest, id string) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/") + tusBase + id
	}
	proto := "http"
	if r.Header.Get("X-Forwarded-Proto") == "https" {
		proto = "https"
	}
	return proto + "://" + r.Header.Get("Host") + tusBase + id
}

// httpDate is how Upload-Expires is written (RFC 9110's IMF-fixdate).
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
