package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/perseus-go/perseus/internal/ingest"
	"github.com/perseus-go/perseus/internal/sign"
)

// answers maps the errors of the ingest core and of URL signatures onto the
// API's answers (errors.go), in one table: the first whose error err is
// answers it, with the core's message for a person where it has one.
var answers = []struct {
	err    error
	answer *Error
}{
	{ingest.ErrNotFound, ErrFileNotFound},
	{ingest.ErrGone, ErrFileGone},
	{ingest.ErrNotIssued, ErrURLInvalid},
	{ingest.ErrAlreadyUploaded, ErrAlreadyDone},
	{ingest.ErrFailed, ErrFileFailed},
	{ingest.ErrHashMismatch, ErrHashMismatch},
	{ingest.ErrTooLarge, ErrTooLarge},
	{ingest.ErrIncomplete, ErrIncomplete},
	{ingest.ErrLengthRequired, ErrLengthRequired},
	{ingest.ErrHashFirst, ErrHashFirst},
	{ingest.ErrContentPending, ErrContentPending},
	{ingest.ErrInvalidHash, ErrInvalidHash},
	{ingest.ErrInvalidPlan, ErrInvalidPartSize},
	{ingest.ErrInvalidParts, ErrInvalidParts},
	{ingest.ErrUploadNotFound, ErrUploadNotFound},
	{ingest.ErrPartsMissing, ErrPartsMissing},
	{ingest.ErrCompleting, ErrCompleting},
	{ingest.ErrPartMismatch, ErrPartMismatch},
	{ingest.ErrChecksumMismatch, ErrChecksumMismatch},
	{ingest.ErrFileChecksumMismatch, ErrFileChecksum},
	{ingest.ErrFileChecksumUnknown, ErrFileChecksumUnknown},
	{ingest.ErrOverQuota, ErrOverQuota},
	{ingest.ErrQuotaExceeded, ErrQuotaExceeded},
	{ingest.ErrNotUploaded, ErrNotUploaded},
	{ingest.ErrDownloadInvalid, ErrDownloadURLInvalid},
	{ingest.ErrDownloadExpired, ErrDownloadURLExpired},
	{ingest.ErrNotBatched, ErrBatchOff},
	{ingest.ErrUnavailable, ErrUnavailable},
	{sign.ErrInvalid, ErrURLInvalid},
	{sign.ErrExpired, ErrURLExpired},
	{sign.ErrUnknownKey, ErrSigningKey},
}

// answerOf returns the answer to err, or nil for an error no entry of
// answers is: a backend's own failure. Where err has a message for a
// person (a Message method), the answer says it.
func answerOf(err error) *Error {
	for _, a := range answers {
		if errors.Is(err, a.err) {
			var m interface{ Message() string }
			if errors.As(err, &m) && m.Message() != "" {
				return a.answer.With("%s", m.Message())
			}
			return a.answer
		}
	}
	return nil
}

// fail answers err: the table's answer, or for a backend's own failure
// (op names what was being done) a 503 with the details in the log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	if e := answerOf(err); e != nil {
		writeError(w, e)
		return
	}
	s.storeError(w, r, op, err)
}

// storeError answers a backend failure: 503 for the client, details in the log.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, op string, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	s.cfg.Logger.ErrorContext(r.Context(), "store failure", "op", op, "path", r.URL.Path, "err", err)
	writeError(w, ErrUnavailable.With("%s failed: a storage backend is unavailable; retry later", op))
}
