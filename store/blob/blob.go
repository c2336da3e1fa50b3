// Package blob defines the content store: durable bytes under keys the server derives from file ids and hashes.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors a Store returns; each backend maps its own onto these.
var (
	// ErrNotFound is returned for a key that holds nothing.
	ErrNotFound = errors.New("blob: not found")
	// ErrExists is returned by a write that may not replace the object
	// already under its key (Multiparter.CompleteMultipart).
	ErrExists = errors.New("blob: an object is already under the key")
	// ErrPartMismatch is returned by committing a part whose bytes are not
	// the size and SHA-256 it was declared with (Assembler.CreatePart).
	ErrPartMismatch = errors.New("blob: the part's bytes do not match its declared size and SHA-256")
)

// Info describes a stored object. ETag identifies the object's current
// bytes, where the store has such a tag (Multiparter.DeleteIf); it is empty
// otherwise.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	ETag    string
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
// requests included) until ttl has passed; when attachment is not empty,
// the answer says Content-Disposition: attachment with that file name, so
// that a browser saves it under that name.
type PresignGetter interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration, attachment string) (string, error)
}

// Locator is implemented by stores over a bucket of an object store that
// tells of the objects written to it (S3 event notifications): KeyOf turns
// the object a notification names, by its bucket and its full key (decoded),
// into the store's key, and reports false for an object outside the store
// (another bucket, or outside its key prefix).
type Locator interface {
	KeyOf(bucket, object string) (key string, ok bool)
}

// Copier is implemented by stores that copy objects without the bytes passing
// through the caller.
type Copier interface {
	Copy(ctx context.Context, src, dst string) error
}

// SizedCreator is implemented by stores that take an object whose size is
// known up front in one streamed request (S3: one PutObject instead of a
// multipart upload, which some S3 servers assemble by copying).
// CreateSized is Create for exactly size bytes: writing more is an error,
// Commit fails and stores nothing unless exactly size bytes were written,
// and Commit returns nil only once the store has confirmed that it holds
// exactly the bytes written, durably.
type SizedCreator interface {
	CreateSized(ctx context.Context, key string, size int64) (Writer, error)
	// MaxSized is the largest size CreateSized accepts.
	MaxSized() int64
}

// BatchCommitter is implemented by stores that make many objects durable
// together for less than one Commit each costs (the local store: the
// files' fsyncs at once, one fsync of each directory for all of them).
// CommitAll commits every writer of ws, each from the store's Create and
// neither committed nor aborted, and returns one error per writer: nil
// for an object that is now durable under its key, exactly as its Commit
// would have left it; otherwise that writer stored nothing new (as a
// failed Commit) and is finished. A writer of another store is an error
// of its own, and the others are committed all the same.
type BatchCommitter interface {
	CommitAll(ctx context.Context, ws []Writer) []error
}

// Part is one part of a multipart upload: its number (from 1), its size, the
// hex SHA-256 of its bytes (empty when the store did not record one) and the
// ETag the store gave it.
//
// A chained part (From set; Assembler only) is checked as a piece of the
// whole object's SHA-256 instead of on its own: From is the chaining value
// (package sha256chain) of the object's bytes before the part, which must
// start at a multiple of 64 bytes, and SHA256 is the chaining value after
// it, or the SHA-256 of the whole object when the part is its last.
//
// Check is a store's own checksum of a part streamed through the caller
// (PartStreamer): what its writer computed of the bytes it sent, which
// CompleteStreamed compares with what the store holds.
type Part struct {
	Number int
	Size   int64
	SHA256 string
	From   string
	ETag   string
	Check  string
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
//
// An upload may target the very key its object is to be served from: parts
// are invisible until CompleteMultipart, which never replaces an object
// already there, and DeleteIf removes the object so made only while it is
// still that object, so that a verifier that found it wrong cannot remove
// anything written after it.
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
	// number order, the object under key, ends the upload and returns the
	// object's ETag. If an object is already under key it fails with
	// ErrExists and leaves the upload as it was; an unknown upload is
	// ErrNotFound.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (etag string, err error)
	// DeleteIf removes the object under key if its ETag is still etag; a
	// missing object or another ETag removes nothing and is not an error.
	DeleteIf(ctx context.Context, key, etag string) error
	// AbortMultipart discards the upload and its parts; an unknown upload is
	// not an error.
	AbortMultipart(ctx context.Context, key, uploadID string) error
	// ListMultipart calls fn for every unfinished upload whose key starts
	// with prefix.
	ListMultipart(ctx context.Context, prefix string, fn func(Upload) error) error
}

// PartStreamer is implemented by multipart stores whose parts can come
// through the caller instead of straight from clients (S3: the server
// relays each part to UploadPart, hashing it on the way), so that the
// caller sees every byte and no object need be read back to be verified.
// Such an upload is begun by CreateStreamed (its parts carry no SHA-256
// for the store to check: the caller checks them) and ended by
// CompleteStreamed; ListParts, DeleteIf, AbortMultipart and ListMultipart
// of Multiparter serve it as any other.
type PartStreamer interface {
	Multiparter
	// CreateStreamed starts a multipart upload that will create key, for
	// parts sent by WritePart, and returns its id.
	CreateStreamed(ctx context.Context, key string) (uploadID string, err error)
	// WritePart starts sending part number of upload uploadID (begun by
	// CreateStreamed) to key: exactly size bytes, streamed as they are
	// written. The store never sees the end of the bytes before Commit:
	// an Abort, or a writer that wrote fewer or more bytes, leaves the
	// part as it was. Write or Commit fail with ErrNotFound when the upload
	// is gone. A Commit that fails may have left the new part
	// stored (the store's answer lost, ctx ended while it was at work).
	// After Commit returns nil, Part returns the part as stored: Number,
	// Size, ETag and Check.
	WritePart(ctx context.Context, key, uploadID string, number int, size int64) (PartWriter, error)
	// CompleteStreamed makes parts (Number, Size, ETag and Check, as Part
	// returned them), in number order, the object under key, as
	// CompleteMultipart does (ErrExists, ErrNotFound alike). It then
	// compares the object the store made with the parts' checks: intact is
	// true when they match, false when the store could not confirm them
	// (the caller must then read the object back to verify it); the object
	// stays either way.
	CompleteStreamed(ctx context.Context, key, uploadID string, parts []Part) (etag string, intact bool, err error)
}

// PartWriter is a part being streamed to a PartStreamer's upload.
type PartWriter interface {
	Writer
	// Part is the part as stored, once Commit has returned nil.
	Part() Part
}

// Assembler is implemented by stores that build one object from parts
// written in place: each part goes straight to its offset in the object
// being assembled, so that making it the object moves no bytes (the local
// store keeps one sparse file per assembly). An assembly is named by
// an id of its own, a key outside the object namespace; it is created by
// its first part, survives restarts, and lasts until CommitAssembly or
// DeleteAssembly. Parts may arrive in any order, several at once.
//
// A part is listed only once its bytes are durable and hash to the SHA-256
// it was declared with; writing a part again unlists it until that write
// commits. Writers of one part at the same time must send the same bytes:
// otherwise a listed part may not describe its region, which only the hash
// of the whole (HashAssembly, before CommitAssembly) shows.
type Assembler interface {
	// CreatePart starts writing part p (p.Size bytes hashing to p.SHA256,
	// or for a chained part continuing the hash from p.From to p.SHA256) at
	// offset off of assembly id, whose object has size bytes in all. Its
	// Commit fails with ErrPartMismatch, and lists nothing, unless exactly
	// those bytes were written; after a Commit that returns nil they are
	// durable and AssemblyParts lists p.
	CreatePart(ctx context.Context, id string, size, off int64, p Part) (Writer, error)
	// AssemblyParts returns the parts committed to assembly id, in number
	// order, or ErrNotFound when there is no such assembly.
	AssemblyParts(ctx context.Context, id string) ([]Part, error)
	// HashAssembly seals assembly id: CreatePart fails from then on, and
	// once the writers of parts under way have ended (it waits for them a
	// while, then fails) no byte is written to it any more, so that what is
	// hashed is what CommitAssembly makes the object. It returns the hex
	// SHA-256 of the assembly's bytes and their number. A store may have
	// hashed most of them already, as parts were committed; when chained
	// parts cover the object, each continuing from the value the one before
	// it ended at and the first from sha256chain.IV, their checks are the
	// hash of the whole and no byte need be read again.
	HashAssembly(ctx context.Context, id string) (sha256 string, size int64, err error)
	// CommitAssembly makes assembly id's bytes, as HashAssembly hashed them,
	// the object under key, durably (replacing any), and ends the assembly.
	CommitAssembly(ctx context.Context, id, key string) error
	// DeleteAssembly discards assembly id; an unknown id is not an error.
	DeleteAssembly(ctx context.Context, id string) error
	// ListAssemblies calls fn for every assembly whose id starts with
	// prefix: Key is its id, Size its object's size, ModTime when it was
	// last written to.
	ListAssemblies(ctx context.Context, prefix string, fn func(Info) error) error
}

// Appender is implemented by stores that take one object's bytes in
// order, over many writes and across restarts (a tus upload): an
// appendable, named by an id of its own outside the object namespace,
// holds the bytes appended so far and a small state its owner keeps with
// them, and is committed to be the object under a key once it is whole.
//
// The state is committed with the bytes, at once: after a Commit that
// returns nil, Appended reports both; after any failure (or a crash) it
// reports what the last successful Commit made durable, and the next
// Append continues from there, writing over whatever a failed one left.
// Only one writer appends to an id at a time (the caller locks); a second
// Append of the same id while a writer is open is not defined.
type Appender interface {
	// Append starts writing the bytes of appendable id from off, which
	// must be what Appended reports (0 for a new id, which Commit
	// creates). size is the whole object's size, for a store that lays it
	// out by it; the bytes written must not go past it.
	Append(ctx context.Context, id string, off, size int64) (AppendWriter, error)
	// Appended returns how many bytes of id are durably held and the
	// state committed with them, or ErrNotFound when id has none.
	Appended(ctx context.Context, id string) (n int64, state []byte, err error)
	// CommitAppended makes id's bytes the object under key, durably
	// (replacing any), and replaces its state with state. id stays, with
	// its size and that state but no bytes to append to, until
	// DeleteAppended. An unknown id is ErrNotFound.
	CommitAppended(ctx context.Context, id, key string, state []byte) error
	// DeleteAppended discards id, its bytes and its state; an unknown id is
	// not an error.
	DeleteAppended(ctx context.Context, id string) error
	// ListAppended calls fn for every appendable whose id starts with
	// prefix: Key is its id, Size the bytes it holds, ModTime when it was
	// last committed.
	ListAppended(ctx context.Context, prefix string, fn func(Info) error) error
}

// InPlaceAppender is implemented by an Appender whose CommitAppended
// makes the bytes the object without copying them (the local store: a
// rename), so that a file's bytes sent in order cost what one copy of them
// costs. Where the store copies them at commit (S3: the parts into one
// object, then that object to its key), a file goes cheaper in parts.
type InPlaceAppender interface {
	Appender
	AppendsInPlace() bool
}

// AppendWriter receives bytes for an appendable (Appender.Append).
// Nothing written counts until Commit returns nil: then the bytes and
// state are durable together, and Appended reports them. Abort discards
// what was written since Append.
type AppendWriter interface {
	io.Writer
	Commit(ctx context.Context, state []byte) error
	Abort() error
}
