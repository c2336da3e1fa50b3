package ingest

import (
	"errors"
	"fmt"
)

// Every error of the core, in one list. They say what went wrong in the
// domain's terms; the HTTP layer maps each onto an answer in one table
// (server/answers.go). An error may carry a message for a person beyond
// its kind: see Message.
var (
	// ErrNotFound: the tenant has no file with this id.
	ErrNotFound = errors.New("ingest: no such file")
	// ErrGone: the file an upload was issued for was deleted meanwhile.
	ErrGone = errors.New("ingest: the file was deleted")
	// ErrNotIssued: an upload names a content the record does not have.
	ErrNotIssued = errors.New("ingest: the upload was not issued for this file")
	// ErrAlreadyUploaded: the file is uploaded; there is nothing to send.
	ErrAlreadyUploaded = errors.New("ingest: the file is already uploaded")
	// ErrFailed: the file is failed; it takes bytes again after a new create.
	ErrFailed = errors.New("ingest: the file is failed")
	// ErrHashMismatch: the bytes do not hash to the file's sourceHash.
	ErrHashMismatch = errors.New("ingest: the bytes do not hash to the sourceHash")
	// ErrTooLarge: more bytes than the limits allow.
	ErrTooLarge = errors.New("ingest: too large")
	// ErrIncomplete: the bytes ended before their declared length.
	ErrIncomplete = errors.New("ingest: the upload ended early")
	// ErrLengthRequired: a way of arrival that needs the length up front did not get it.
	ErrLengthRequired = errors.New("ingest: the length is required")
	// ErrHashFirst: a streamed upload of content the tenant may have already.
	ErrHashFirst = errors.New("ingest: hash the content first")
	// ErrInvalidHash: a SHA-256 that is not 64 hexadecimal characters.
	ErrInvalidHash = errors.New("ingest: invalid SHA-256")
	// ErrContentPending: an open upload's content belongs to a pending file
	// of the tenant's, which the content must go to instead.
	ErrContentPending = errors.New("ingest: the content is pending in another file")
	// ErrInvalidPlan: a multipart plan (size, part size) that makes no sense.
	ErrInvalidPlan = errors.New("ingest: invalid multipart plan")
	// ErrInvalidParts: part references that do not fit the upload.
	ErrInvalidParts = errors.New("ingest: invalid parts")
	// ErrUploadNotFound: no unfinished multipart upload with this id.
	ErrUploadNotFound = errors.New("ingest: no such multipart upload")
	// ErrPartsMissing: completing an upload some of whose parts are not stored.
	ErrPartsMissing = errors.New("ingest: parts missing")
	// ErrCompleting: the upload is being completed; its parts can no longer change.
	ErrCompleting = errors.New("ingest: the upload is being completed")
	// ErrPartMismatch: a part's bytes are not the size and SHA-256 it was issued for.
	ErrPartMismatch = errors.New("ingest: the part's bytes do not match")
	// ErrChecksumMismatch: one request's bytes do not hash to the checksum
	// it came with (a resumable upload's); none of them was kept.
	ErrChecksumMismatch = errors.New("ingest: the bytes do not match the request's checksum")
	// ErrFileChecksumMismatch: a resumable upload's bytes, all of them
	// there, do not have the whole-file checksum its last request
	// declared; the upload was discarded.
	ErrFileChecksumMismatch = errors.New("ingest: the file's bytes do not match its declared checksum")
	// ErrFileChecksumUnknown: a whole-file checksum declared for an upload
	// begun before the server kept one; nothing can be checked against it.
	ErrFileChecksumUnknown = errors.New("ingest: the upload keeps no whole-file checksum")
	// ErrQuotaExceeded: the tenant keeps as many files or bytes as its
	// quota allows; it must delete some before it adds more.
	ErrQuotaExceeded = errors.New("ingest: the tenant is at its quota")
	// ErrOverQuota: one file larger than what remains of the tenant's byte
	// quota (or than the whole quota).
	ErrOverQuota = errors.New("ingest: the file is larger than the quota leaves room for")
	// ErrNotUploaded: a download of a file that is pending or failed: it
	// has no content yet.
	ErrNotUploaded = errors.New("ingest: the file is not uploaded")
	// ErrDownloadInvalid: a download URL whose signature does not match.
	ErrDownloadInvalid = errors.New("ingest: the download URL's signature does not match")
	// ErrDownloadExpired: a download URL past its expiry.
	ErrDownloadExpired = errors.New("ingest: the download URL has expired")
	// ErrNotBatched: the blob store commits no objects together, so the
	// content of many files is not taken in one request (ReceiveAll).
	ErrNotBatched = errors.New("ingest: batch uploads are not offered by this store")
	// ErrUnavailable: a store failed; the caller may retry later.
	ErrUnavailable = errors.New("ingest: a storage backend is unavailable")
)

// detailed is an error of one kind (a sentinel above) with a message for a person.
type detailed struct {
	kind error
	msg  string
}

func (d *detailed) Error() string { return d.msg }

// Message is what the error says to a person.
func (d *detailed) Message() string { return d.msg }
func (d *detailed) Unwrap() error   { return d.kind }

// failf returns an error of kind whose message for a person is the formatted text.
func failf(kind error, format string, args ...any) error {
	return &detailed{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Message returns what err says to a person beyond its kind, or "" when it
// is a bare sentinel (or no error of the core).
func Message(err error) string {
	var d *detailed
	if errors.As(err, &d) {
		return d.msg
	}
	return ""
}
