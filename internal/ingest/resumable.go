package ingest

// Resumable uploads: a new file's bytes sent in order, over as many
// requests as the client needs, resumed from where the server says they
// end (the tus protocol; the HTTP side is server/tus*.go).
//
// A resumable upload is an appendable of the blob store (blob.Appender),
// named by the id its file will have (keys.Resumable), which holds the
// bytes received so far and, committed with them, its state: who it is
// for, its size and name, and the SHA-256 of those bytes as the hash's own
// running state, so that the file is hashed in one pass however many
// requests it comes in, and across restarts; beside it, the CRC-64/NVME of
// those bytes, so that a client that does not hash the file (the Go SDK's
// default) has its bytes checked end to end for the price of a CRC: it
// declares the whole file's with its last bytes. It has no record until its
// last byte: then FinishResumable records the file under the hash the
// bytes turned out to have (or the one the client declared) and settles
// it, with the same dedup as a stream. An upload idle for PendingTTL
// expires, and the sweeper removes it.

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
)

// Resumable is a resumable upload as its client sees it.
type Resumable struct {
	ID     string // the upload's id, and the id its file has unless its content was there already
	Tenant string
	Size   int64 // the file's size, declared at creation
	Offset int64 // the bytes received and durable so far
	Name   string
	SHA256 string            // the hash declared at creation (hex), or ""
	Meta   map[string]string // the client's metadata, as it sent it
	// Created is when the upload began; Expires, when it expires unless
	// bytes arrive (PendingTTL after the last that did).
	Created, Expires time.Time
	// FileID is the file the upload ended as: set once finished, or at
	// creation when the tenant had the content already (and no byte is
	// taken: Offset is Size).
	FileID string

	hash    []byte  // the SHA-256 state after Offset bytes (encoding.BinaryMarshaler)
	crc     *uint64 // the CRC-64/NVME of the first Offset bytes; nil for an upload begun before it was kept
	settled bool    // FileID's file is settled (not only the bytes committed for it)
}

// Done reports whether the upload is over: its file is settled, or its
// content was there from the start. An upload whose bytes were committed
// for a file not yet settled (a finish cut off) is not, and takes no more
// bytes either: FinishResumable takes it up again.
func (r Resumable) Done() bool { return r.FileID != "" && r.settled }

// resumableState is what an appendable's state holds.
type resumableState struct {
	Tenant  string            `json:"tenant"`
	Size    int64             `json:"size"`
	Name    string            `json:"name"`
	SHA256  string            `json:"sha256,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
	Created time.Time         `json:"created"`
	Updated time.Time         `json:"updated"`
	Hash    []byte            `json:"hash"`
	CRC64   *uint64           `json:"crc64,omitempty"`
	FileID  string            `json:"fileId,omitempty"`
	Settled bool              `json:"settled,omitempty"`
}

// appender returns the blob store as a blob.Appender, or ErrUnavailable
// for a store that cannot take resumable uploads.
func (c *Core) appender() (blob.Appender, error) {
	a, ok := c.blobs.(blob.Appender)
	if !ok {
		return nil, failf(ErrUnavailable, "this server's blob store takes no resumable uploads")
	}
	return a, nil
}

// resumablePreferred reports whether the blob store makes an appendable
// the object without copying its bytes (blob.InPlaceAppender).
func (c *Core) resumablePreferred() bool {
	a, ok := c.blobs.(blob.InPlaceAppender)
	return ok && a.AppendsInPlace()
}

// CreateResumable begins a resumable upload of a new file of tenant's:
// size bytes named name, and optionally declared to hash to sha256 (hex).
// With a declared hash whose content the tenant has uploaded already, the
// upload is done at once: its FileID is that file's, and it takes no
// bytes. Without one, a client that asks it (hashFirst: it sends bytes
// while it hashes them) is told to hash first (ErrHashFirst) when the
// tenant has an uploaded file of that size, as an open upload is, so that
// known content sends nothing; no upload is begun then.
func (c *Core) CreateResumable(ctx context.Context, tenant string, size int64, name, sha256hex string, metadata map[string]string, hashFirst bool) (Resumable, error) {
	a, err := c.appender()
	if err != nil {
		return Resumable{}, err
	}
	switch {
	case size < 0:
		return Resumable{}, failf(ErrLengthRequired, "declare the file's size (Upload-Length): this server does not take uploads of unknown length")
	case size > c.cfg.MaxFileSize:
		return Resumable{}, failf(ErrTooLarge, "the file is %d bytes; this server takes at most %d (maxFileSize)", size, c.cfg.MaxFileSize)
	}
	if sha256hex != "" {
		h, ok := CheckHash(sha256hex)
		if !ok {
			return Resumable{}, failf(ErrInvalidHash, "sha256 %q is not a SHA-256 (64 hexadecimal characters, or 44 of base64)", sha256hex)
		}
		sha256hex = h
	} else if hashFirst {
		if err := c.hashFirst(ctx, tenant, size, hashAndDeclare); err != nil {
			return Resumable{}, err
		}
	}
	r := Resumable{ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Size: size, Name: name, SHA256: sha256hex,
		Meta: metadata, Created: now(), crc: new(uint64)}
	if r.Name == "" {
		r.Name = r.ID // a file has a name; a client that gave none finds it by its id
	}
	if sha256hex != "" {
		f, ok, err := c.uploadedWith(ctx, tenant, sha256hex)
		if err != nil {
			return Resumable{}, err
		}
		if ok {
			r.FileID, r.Offset, r.settled = f.ID, size, true
		}
	}
	if !r.Done() {
		if err := c.roomForOpen(ctx, tenant, size); err != nil {
			return Resumable{}, err
		}
	}
	h := sha256.New()
	if r.hash, err = h.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
		return Resumable{}, err
	}
	w, err := a.Append(ctx, keys.Resumable(tenant, r.ID), 0, size)
	if err != nil {
		return Resumable{}, c.unavailable(ctx, "append", r.ID, err, "could not begin the upload: a storage backend is unavailable; try again later")
	}
	st, err := r.state(now())
	if err == nil {
		err = w.Commit(ctx, st)
	}
	if err != nil {
		w.Abort()
		return Resumable{}, c.unavailable(ctx, "append", r.ID, err, "could not begin the upload: a storage backend is unavailable; try again later")
	}
	r.Expires = now().Add(c.cfg.PendingTTL)
	return r, nil
}

// hashAndDeclare is what a tus client told to hash first does.
const hashAndDeclare = "hash the file and create the upload again with its SHA-256 in the metadata sha256, which answers content you have at once, without a byte sent"

// state encodes r as its appendable's state, last written at updated.
func (r Resumable) state(updated time.Time) ([]byte, error) {
	return json.Marshal(resumableState{Tenant: r.Tenant, Size: r.Size, Name: r.Name, SHA256: r.SHA256, Meta: r.Meta,
		Created: r.Created, Updated: updated, Hash: r.hash, CRC64: r.crc, FileID: r.FileID, Settled: r.settled})
}

// Resumable returns tenant's resumable upload id. Another tenant's, an
// expired one and one never made are all ErrUploadNotFound.
func (c *Core) Resumable(ctx context.Context, tenant, id string) (Resumable, error) {
	a, err := c.appender()
	if err != nil {
		return Resumable{}, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return Resumable{}, ErrUploadNotFound
	}
	n, raw, err := a.Appended(ctx, keys.Resumable(tenant, id))
	if errors.Is(err, blob.ErrNotFound) {
		return Resumable{}, ErrUploadNotFound
	}
	if err != nil {
		return Resumable{}, c.unavailable(ctx, "appended", id, err, "could not find the upload: a storage backend is unavailable; try again later")
	}
	var st resumableState
	if err := json.Unmarshal(raw, &st); err != nil || st.Tenant != tenant {
		return Resumable{}, fmt.Errorf("ingest: resumable upload %s: its state is unreadable: %v", id, err)
	}
	r := Resumable{ID: id, Tenant: tenant, Size: st.Size, Offset: n, Name: st.Name, SHA256: st.SHA256, Meta: st.Meta,
		Created: st.Created, Expires: st.Updated.Add(c.cfg.PendingTTL), FileID: st.FileID, hash: st.Hash, crc: st.CRC64, settled: st.Settled}
	if r.FileID != "" {
		r.Offset = r.Size // its bytes are all there, or were never needed
	} else if now().After(r.Expires) {
		return Resumable{}, ErrUploadNotFound // the sweeper's, whenever it comes
	}
	return r, nil
}

// hasher returns the SHA-256 of r's first Offset bytes, ready for more.
func (r Resumable) hasher() (hash.Hash, error) {
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(r.hash); err != nil {
		return nil, fmt.Errorf("ingest: resumable upload %s: its hash state is unreadable: %w", r.ID, err)
	}
	return h, nil
}

// sum returns the hex SHA-256 of r's bytes so far.
func (r Resumable) sum() (string, error) {
	h, err := r.hasher()
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// DeleteResumable ends tenant's resumable upload id and discards its
// bytes. A finished upload's file stays: it is deleted as any file is.
func (c *Core) DeleteResumable(ctx context.Context, tenant, id string) error {
	a, err := c.appender()
	if err != nil {
		return err
	}
	if _, err := c.Resumable(ctx, tenant, id); err != nil {
		return err
	}
	if err := a.DeleteAppended(ctx, keys.Resumable(tenant, id)); err != nil {
		return c.unavailable(ctx, "delete_appended", id, err, "could not end the upload: a storage backend is unavailable; try again later")
	}
	return nil
}

// sweepResumable removes the resumable uploads no byte has reached since
// before, finished ones included (their files stay). Each is checked
// again under its lock, so that one a request is writing to is left.
func (c *Core) sweepResumable(ctx context.Context, before time.Time) (int, error) {
	a, ok := c.blobs.(blob.Appender)
	if !ok {
		return 0, nil
	}
	var old []string
	err := a.ListAppended(ctx, keys.ResumablePrefix, func(i blob.Info) error {
		if i.ModTime.Before(before) {
			old = append(old, i.Key)
		}
		return nil
	})
	n := 0
	for _, id := range old {
		tenant, upload, ok := strings.Cut(strings.TrimPrefix(id, keys.ResumablePrefix), "/")
		if !ok {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		unlock, lerr := c.LockResumable(lctx, tenant, upload, nil)
		cancel()
		if lerr != nil {
			continue // in use: not idle after all
		}
		_, _, st, serr := c.appendedState(ctx, a, id)
		if serr == nil && st.Updated.Before(before) {
			serr = a.DeleteAppended(ctx, id)
			if serr == nil {
				n++
			}
		}
		unlock()
		if serr != nil && !errors.Is(serr, blob.ErrNotFound) {
			err = errors.Join(err, serr)
		}
	}
	return n, err
}

// appendedState reads the state of appendable id.
func (c *Core) appendedState(ctx context.Context, a blob.Appender, id string) (int64, []byte, resumableState, error) {
	var st resumableState
	n, raw, err := a.Appended(ctx, id)
	if err != nil {
		return n, raw, st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		// Unreadable: as old as its last write, which the listing said.
		return n, raw, resumableState{}, nil
	}
	return n, raw, st, nil
}

// resumableUploads counts tenant's resumable uploads still taking bytes,
// and the bytes they are to hold: they count against the quotas as open
// uploads do (a finished one is its file, counted as such).
func (c *Core) resumableUploads(ctx context.Context, tenant string) (n int, size int64, err error) {
	a, ok := c.blobs.(blob.Appender)
	if !ok {
		return 0, 0, nil
	}
	var ids []string
	err = a.ListAppended(ctx, keys.Resumable(tenant, ""), func(i blob.Info) error {
		ids = append(ids, i.Key)
		return nil
	})
	for _, id := range ids {
		r, rerr := c.Resumable(ctx, tenant, strings.TrimPrefix(id, keys.Resumable(tenant, "")))
		if rerr == nil && r.FileID == "" {
			n++
			size += r.Size
		}
	}
	return n, size, err
}
