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

// Copier is implemented by stores that copy objects without the bytes passing
// through the caller.
type Copier interface {
	Copy(ctx context.Context, src, dst string) error
}
