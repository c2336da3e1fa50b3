// Package blob defines the content store: durable bytes under keys the server derives from file ids and hashes.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned for a key that holds nothing.
var ErrNotFound = errors.New("blob: not found")

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Writer receives one object's bytes. Nothing is visible under the key until
// Commit returns nil, and then the bytes are durable. Abort discards them.
type Writer interface {
	io.Writer
	Commit(ctx context.Context) error
	Abort() error
}

// Store keeps objects by key. Keys are slash-separated and made of
// [a-zA-Z0-9._-] segments.
type Store interface {
	// Create starts writing the object under key, replacing any on Commit.
	Create(ctx context.Context, key string) (Writer, error)
	// Open reads the object from offset to its end, or ErrNotFound.
	Open(ctx context.Context, key string, offset int64) (io.ReadCloser, error)
	// Stat describes the object, or ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; removing a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every object whose key starts with prefix.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Ping checks that the store can serve.
	Ping(ctx context.Context) error
}

// Presigner is implemented by stores that clients can write to directly:
// PresignPut returns a URL that accepts one plain PUT of the raw bytes to key
// until ttl has passed.
type Presigner interface {
	PresignPut(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// PresignGetter is implemented by stores that clients can read from
// directly: PresignGet returns a URL that answers one plain GET of key (Range
// requests included) until ttl has passed.
type PresignGetter interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// Copier is implemented by stores that copy objects without the bytes passing
// through the caller.
type Copier interface {
	Copy(ctx context.Context, src, dst string) error
}

// Part is one part of a multipart upload: its number (from 1), its size, the
// hex SHA-256 of its bytes (empty when the store did not record one) and the
// ETag the store gave it.
type Part struct {
	Number int
	Size   int64
	SHA256 string
	ETag   string
}

// Upload is an unfinished multipart upload: the key it will create, the
// store's id for it and when it was started.
type Upload struct {
	Key       string
	ID        string
	Initiated time.Time
}

// Multiparter is implemented by stores that take one object in parts sent
// straight to the store by clients (S3 multipart uploads). The store itself
// refuses a part whose bytes do not hash to the SHA-256 its URL was signed
// for, and records that hash, so that listed parts can be checked later.
type Multiparter interface {
	// CreateMultipart starts a multipart upload that will create key and
	// returns its id.
	CreateMultipart(ctx context.Context, key string) (uploadID string, err error)
	// PresignPart returns a URL that accepts one PUT of part p.Number, exactly
	// p.Size bytes hashing to p.SHA256, until ttl has passed, and the headers
	// that PUT must carry besides Content-Length.
	PresignPart(ctx context.Context, key, uploadID string, p Part, ttl time.Duration) (url string, header map[string]string, err error)
	// ListParts returns the parts uploaded so far in number order, or
	// ErrNotFound when there is no such upload.
	ListParts(ctx context.Context, key, uploadID string) ([]Part, error)
	// CompleteMultipart makes parts (Number, ETag and SHA256 as listed), in
	// number order, the object under key, and ends the upload.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) error
	// AbortMultipart discards the upload and its parts; an unknown upload is
	// not an error.
	AbortMultipart(ctx context.Context, key, uploadID string) error
	// ListMultipart calls fn for every unfinished upload whose key starts
	// with prefix.
	ListMultipart(ctx context.Context, prefix string, fn func(Upload) error) error
}
