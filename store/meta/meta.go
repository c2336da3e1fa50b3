// Package meta defines the metadata store: file records and API keys, keyed by tenant, id and SHA-256.
package meta

import (
	"context"
	"errors"
	"time"
)

// Status is the lifecycle state of a file record.
type Status string

// The three states of a file, as the v0 contract names them.
const (
	StatusPending  Status = "pending"
	StatusUploaded Status = "uploaded"
	StatusFailed   Status = "failed"
)

// Final reports whether no further transition is expected without a new upload.
func (s Status) Final() bool { return s == StatusUploaded || s == StatusFailed }

// Kind is how a record's content arrives, which decides where it is kept.
type Kind string

const (
	// KindHashed is a record created from a declared SHA-256 (the v0 create): its content is addressed by that hash.
	KindHashed Kind = "hashed"
	// KindStreamed is a record whose bytes arrived before their hash was known (POST /api/v0/file/stream).
	KindStreamed Kind = "streamed"
)

// File is one file record as the store keeps it.
type File struct {
	ID         string
	Tenant     string
	Name       string
	SourceHash string // lower-case hex SHA-256 the content must hash to
	Kind       Kind   // how the content arrives; set when the record is created, never changed
	Status     Status
	Size       int64  // verified size in bytes; 0 until uploaded
	Reason     string // why the upload failed, for a person
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Key is one API key as the store keeps it: never the key itself, only its SHA-256.
type Key struct {
	ID        string
	Tenant    string
	Hash      string // hex SHA-256 of the key
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Errors a Store returns; backends map their own "missing" and constraint errors onto these.
var (
	ErrNotFound = errors.New("meta: not found")
	ErrConflict = errors.New("meta: status changed concurrently")
	ErrExists   = errors.New("meta: already exists")
)

// Usage is what one tenant keeps, as quotas count it (Store.Usage).
type Usage struct {
	Files int64 // pending and uploaded records
	Bytes int64 // the sizes of the uploaded ones
}

// Claimed is what Store.Claim returns, for one file of Store.ClaimAll.
type Claimed struct {
	Rec     File
	Created bool
}

// Update describes a status transition. The store applies it only while the
// record's status is still From, so that concurrent finishers agree.
type Update struct {
	From   Status
	To     Status
	Size   int64
	Reason string
}

// Store keeps file records and API keys. Every method is safe for concurrent
// use, and from several processes sharing one database. Every File a method
// returns is the whole record, its Kind included.
type Store interface {
	// Claim returns the record of tenant for f.SourceHash, creating it from f
	// (ID, Tenant, Name, SourceHash, Kind, CreatedAt) when there is none; an
	// empty Kind is stored as KindHashed. An existing record keeps its own
	// Kind. An existing pending or failed record is reset to pending (Reason
	// cleared, UpdatedAt touched) and returned with created false; an
	// uploaded one is returned unchanged.
	// Concurrent claims of one hash by one tenant yield exactly one record.
	Claim(ctx context.Context, f File) (rec File, created bool, err error)
	// ClaimAll claims each of files as Claim does, in order, and returns
	// what each claim returned, in the same order; several of one hash (and
	// tenant) yield one record, made by the first. It is one transaction:
	// one commit for all of them, and an error means none was claimed.
	// Concurrent ClaimAlls and Claims of overlapping hashes never deadlock.
	ClaimAll(ctx context.Context, files []File) ([]Claimed, error)
	// Get returns the tenant's record with this id, or ErrNotFound.
	Get(ctx context.Context, tenant, id string) (File, error)
	// Find returns the tenant's records whose id is in ids or whose hash is in
	// hashes, each once, oldest first.
	Find(ctx context.Context, tenant string, ids, hashes []string) ([]File, error)
	// HasSize reports whether tenant has an uploaded record of exactly size
	// bytes. It is answered from an index on (tenant, size).
	HasSize(ctx context.Context, tenant string, size int64) (bool, error)
	// Usage returns what tenant keeps, as quotas count it: its pending and
	// uploaded records (failed ones hold nothing), and the sizes of its
	// uploaded ones. It is answered from indexes of the tenant's pending
	// and uploaded records, never a walk of the table.
	Usage(ctx context.Context, tenant string) (Usage, error)
	// Transition applies u to the record with this id if its status is u.From,
	// returning the new record; ErrConflict if the status was another,
	// ErrNotFound if there is no such record.
	Transition(ctx context.Context, id string, u Update) (File, error)
	// Delete removes the tenant's record and returns it, or ErrNotFound.
	Delete(ctx context.Context, tenant, id string) (File, error)
	// DeleteStale removes the tenant's record if its status is still s and
	// its UpdatedAt is earlier than before, and returns it; ErrConflict if
	// the record is there but no longer matches (its status moved on, or a
	// Transition or Claim touched it since), ErrNotFound if the tenant has
	// no such record. Check and delete are one atomic step: a concurrent
	// Transition or Claim that changes or touches the record either comes
	// first, and the record stays, or finds it gone (a Transition gets
	// ErrNotFound). So the sweeper never deletes a record an upload has
	// just settled, and never lets such an upload settle a deleted one.
	DeleteStale(ctx context.Context, tenant, id string, s Status, before time.Time) (File, error)
	// Stale returns up to limit records in status s last updated before t, oldest first.
	Stale(ctx context.Context, s Status, before time.Time, limit int) ([]File, error)
	// Exists reports whether any record, of any tenant, has this id.
	Exists(ctx context.Context, id string) (bool, error)
	// List returns up to q.Limit of the tenant's records, newest first
	// (CreatedAt, then ID, both descending), that match q's filters and come
	// after q.After in that order.
	List(ctx context.Context, tenant string, q ListQuery) ([]File, error)

	// PutKey stores a new key; ErrExists if its hash is already stored.
	PutKey(ctx context.Context, k Key) error
	// KeyByHash returns the unrevoked key with this hash, or ErrNotFound.
	KeyByHash(ctx context.Context, hash string) (Key, error)
	// Keys lists every key, revoked ones included, oldest first.
	Keys(ctx context.Context) ([]Key, error)
	// RevokeKey marks the key with this id revoked, or ErrNotFound.
	RevokeKey(ctx context.Context, id string, at time.Time) error

	// Ping checks that the store can serve.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}
