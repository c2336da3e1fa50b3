package server

import (
	"fmt"
	"net/http"
)

// Error is an answer the server gives when a request cannot succeed: an HTTP
// status, a stable machine code and a message a person can act on.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// With returns a copy of e whose message is the given text.
func (e *Error) With(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// Every error the server answers, in one list.
var (
	ErrUnauthorized   = &Error{http.StatusUnauthorized, "unauthorized", "missing or unknown API key: send the header Authorization: Bearer <key>"}
	ErrBadRequest     = &Error{http.StatusBadRequest, "bad_request", "the request is malformed"}
	ErrInvalidName    = &Error{http.StatusBadRequest, "invalid_name", "name must be 1 to 1024 bytes of UTF-8 without control characters or \\; it may be a relative path of /-separated segments, none empty, . or .."}
	ErrInvalidHash    = &Error{http.StatusBadRequest, "invalid_source_hash", "sourceHash must be the SHA-256 of the content as 64 hexadecimal characters"}
	ErrTooMany        = &Error{http.StatusBadRequest, "too_many_values", "too many ids and sourceHashes in one request"}
	ErrFileNotFound   = &Error{http.StatusNotFound, "file_not_found", "no file with this id"}
	ErrRouteNotFound  = &Error{http.StatusNotFound, "not_found", "no such endpoint"}
	ErrMethod         = &Error{http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this endpoint"}
	ErrFileExists     = &Error{http.StatusConflict, "file_exists", "a file with this content is already uploaded; find it by its sourceHash"}
	ErrAlreadyDone    = &Error{http.StatusConflict, "already_uploaded", "this file is already uploaded; nothing to do"}
	ErrFileFailed     = &Error{http.StatusConflict, "file_failed", "this file is marked failed; create it again (same name and sourceHash) for a fresh upload URL"}
	ErrURLInvalid     = &Error{http.StatusForbidden, "upload_url_invalid", "the upload URL is not valid: its signature does not match; create the file again for a fresh URL"}
	ErrURLExpired     = &Error{http.StatusForbidden, "upload_url_expired", "the upload URL has expired; create the file again for a fresh URL"}
	ErrSigningKey     = &Error{http.StatusForbidden, "signing_key_unknown", "this was signed with a signing key this server does not have: every replica must be started with the same --signing-key list"}
	ErrFileGone       = &Error{http.StatusGone, "file_deleted", "the file this upload URL was issued for has been deleted"}
	ErrTooLarge       = &Error{http.StatusRequestEntityTooLarge, "too_large", "the body is larger than this server accepts"}
	ErrHashMismatch   = &Error{http.StatusUnprocessableEntity, "hash_mismatch", "the uploaded bytes do not hash to the file's sourceHash; the file is marked failed and the bytes were discarded"}
	ErrLengthRequired = &Error{http.StatusLengthRequired, "length_required", "send the body with a Content-Length"}
	ErrHashFirst      = &Error{http.StatusConflict, "hash_first", "you have an uploaded file of this size, so this content may be there already: hash the file and create it (POST /api/v0/file) instead, which sends nothing the server has"}
	ErrContentPending = &Error{http.StatusConflict, "content_pending", "a pending file of yours has this content: create the file (POST /api/v0/file with this sha256) and send the content to it, or complete this upload again once that file is settled"}
	ErrIncomplete     = &Error{http.StatusBadRequest, "upload_incomplete", "the upload ended before all bytes arrived; nothing was kept, send it again"}
	ErrUnavailable    = &Error{http.StatusServiceUnavailable, "unavailable", "a storage backend is unavailable; retry later"}
	ErrInternal       = &Error{http.StatusInternalServerError, "internal", "internal server error"}
	ErrNotReady       = &Error{http.StatusServiceUnavailable, "not_ready", "the server cannot reach its stores"}
	ErrInvalidWait    = &Error{http.StatusBadRequest, "invalid_wait", "wait must be a duration such as 30s, at most 60s"}
	ErrUnsupportedMed = &Error{http.StatusUnsupportedMediaType, "unsupported_media_type", "send the request body as JSON (Content-Type: application/json)"}

	// Limits per tenant (GET /api/v0/limits says them).
	ErrRateLimited   = &Error{http.StatusTooManyRequests, "rate_limited", "too many requests with this API key; retry after the seconds Retry-After says"}
	ErrOverQuota     = &Error{http.StatusRequestEntityTooLarge, "over_quota", "the file is larger than what remains of your quota; delete files you no longer need to make room"}
	ErrQuotaExceeded = &Error{http.StatusInsufficientStorage, "quota_exceeded", "you keep as many files or bytes as your quota allows; delete files you no longer need, then try again"}

	// Listing (GET /api/v0/file).
	ErrInvalidLimit  = &Error{http.StatusBadRequest, "invalid_limit", "limit must be a whole number from 1 to 1000"}
	ErrInvalidCursor = &Error{http.StatusBadRequest, "invalid_cursor", "cursor must be the nextCursor of an earlier answer, unchanged"}
	ErrInvalidStatus = &Error{http.StatusBadRequest, "invalid_status", "status must be pending, uploaded or failed"}
	ErrInvalidPrefix = &Error{http.StatusBadRequest, "invalid_name_prefix", "namePrefix must be at most 1024 bytes of UTF-8"}

	// Events (GET /api/v0/events).
	ErrInvalidEventType = &Error{http.StatusBadRequest, "invalid_event_type", "types must be a comma-separated list of event types: file.created, file.uploaded, file.failed, file.deleted"}
	ErrInvalidSince     = &Error{http.StatusBadRequest, "invalid_since", "since (or Last-Event-ID) must be the id of an event, a whole number, 0 or more (or since=latest, for the events from now on)"}

	// Download (GET /api/v0/file/{id}/content).
	ErrNotUploaded     = &Error{http.StatusConflict, "file_not_uploaded", "the file has no content to download: it is not uploaded"}
	ErrContentMissing  = &Error{http.StatusInternalServerError, "content_missing", "the file is uploaded but its content is missing from the store"}
	ErrRangeNotSatisfy = &Error{http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable", "the Range does not overlap the content"}
	ErrPrecondition    = &Error{http.StatusPreconditionFailed, "precondition_failed", "the If-Match or If-Unmodified-Since condition does not hold"}

	// Download URLs (POST /api/v0/file/{id}/download-url, GET /download/{id}).
	ErrDownloadURLInvalid = &Error{http.StatusForbidden, "download_url_invalid", "the download URL is not valid: its signature does not match (was it cut or changed?); ask the API for a new download URL (POST /api/v0/file/{id}/download-url)"}
	ErrDownloadURLExpired = &Error{http.StatusGone, "download_url_expired", "the download URL has expired (they last 15 minutes); ask the API for a new download URL (POST /api/v0/file/{id}/download-url)"}

	// Multipart uploads (/api/v0/file/{id}/multipart…, PUT /upload/{id}/parts/{n}).
	ErrInvalidPartSize = &Error{http.StatusBadRequest, "invalid_part_size", "size and partSize must be positive, and partSize at least the server's minPartSize unless the file fits in one part (see GET /api/v0/limits)"}
	ErrInvalidParts    = &Error{http.StatusBadRequest, "invalid_parts", "parts must list partNumber (from 1 to the upload's partCount) and sha256 (64 hexadecimal characters), each number once"}
	ErrUploadNotFound  = &Error{http.StatusNotFound, "upload_not_found", "no unfinished multipart upload with this uploadId for this file; start one with POST /api/v0/file/{id}/multipart"}
	ErrPartsMissing    = &Error{http.StatusBadRequest, "parts_missing", "some parts are not uploaded, or not with the listed sha256; upload them and complete again"}
	ErrCompleting      = &Error{http.StatusConflict, "upload_completing", "the multipart upload is being completed: its parts can no longer change; wait for the verdict of complete"}
	ErrPartMismatch    = &Error{http.StatusUnprocessableEntity, "part_checksum_mismatch", "the part's bytes do not hash to the sha256 its URL was issued for; nothing was kept"}

	// Resumable uploads (tus, /api/v0/tus/).
	ErrTusNotFound         = &Error{http.StatusNotFound, "upload_not_found", "no resumable upload with this id for your API key: it expired, was ended, or is another tenant's; create a new one (POST /api/v0/tus/)"}
	ErrChecksumMismatch    = &Error{460, "checksum_mismatch", "the request's bytes do not hash to its Upload-Checksum; none of them was kept, send them again"}
	ErrChecksumAlgo        = &Error{http.StatusBadRequest, "checksum_unsupported", "Upload-Checksum must be \"<algorithm> <base64 digest>\" with algorithm sha1, sha256, md5 or crc64nvme"}
	ErrFileChecksum        = &Error{460, "file_checksum_mismatch", "the file's bytes, as the server received them, do not have the CRC-64/NVME its last request declared (Perseus-File-Checksum); the upload was discarded: upload the file again"}
	ErrFileChecksumUnknown = &Error{http.StatusConflict, "file_checksum_unavailable", "this upload began before the server kept a whole-file checksum, so Perseus-File-Checksum cannot be checked: send the rest without it, or create a new upload"}
	ErrFileChecksumHeader  = &Error{http.StatusBadRequest, "checksum_unsupported", "Perseus-File-Checksum must be \"crc64nvme <base64 of the 8 bytes, big-endian>\": the CRC-64/NVME of the whole file"}
	ErrTusMetadata         = &Error{http.StatusBadRequest, "invalid_metadata", "Upload-Metadata sha256 must be a SHA-256 as 64 hexadecimal characters or 44 of base64, and filename (or name) a valid file name"}

	// Batch uploads (POST /api/v0/file/batch/content).
	ErrBatchOff   = &Error{http.StatusNotFound, "batch_content_off", "this server takes no batch uploads (batchContent is 0 in GET /api/v0/limits: its blob store cannot commit files together): PUT each file to its uploadUrl"}
	ErrBatchFrame = &Error{http.StatusBadRequest, "invalid_batch", `the body must be one line of JSON, {"files": [{"id": …, "size": …}, …]} (each id once, sizes 0 or more), a newline, then the bytes of each file in that order, exactly its size of them`}

	// S3 event notifications (POST /api/v0/s3/events).
	ErrS3EventsOff   = &Error{http.StatusNotFound, "s3_events_off", "this server takes no S3 event notifications: start it with --s3-events-token"}
	ErrS3EventsToken = &Error{http.StatusUnauthorized, "unauthorized", "missing or wrong token: give the event sender this endpoint's URL with ?token=<the server's --s3-events-token>"}
	ErrS3EventsBody  = &Error{http.StatusBadRequest, "bad_request", `the body must be a JSON object of S3 event notifications: {"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {"bucket": {"name": …}, "object": {"key": …}}}]}`}

	// Webhooks (/api/v0/webhooks…).
	ErrInvalidWebhookURL = &Error{http.StatusBadRequest, "invalid_webhook_url", "url must be an absolute http or https URL of at most 2048 bytes, without user, password or fragment, whose host resolves"}
	ErrWebhookDenied     = &Error{http.StatusBadRequest, "webhook_address_denied", "the URL's host is an address webhooks may not reach (loopback, private, link-local or another network that is not the public internet) unless the server allows it (perseus serve --webhook-allow)"}
	ErrInvalidEvents     = &Error{http.StatusBadRequest, "invalid_events", "events must list event types among file.created, file.uploaded, file.failed and file.deleted (none: all of them)"}
	ErrWebhookNotFound   = &Error{http.StatusNotFound, "webhook_not_found", "no webhook with this id"}
	ErrTooManyWebhooks   = &Error{http.StatusConflict, "too_many_webhooks", "you have as many webhooks as a tenant may have; remove one first"}
)
