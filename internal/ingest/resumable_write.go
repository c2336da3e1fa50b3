package ingest

import (
	"bytes"
	"context"
	"encoding"
	"hash"
	"io"
	"time"

	"github.com/perseus-go/perseus/internal/keys"
)

// Checksum is what one write's bytes must hash to (tus's checksum
// extension): a hash of the algorithm the client named, and its sum.
type Checksum struct {
	Algorithm string // as the client named it, for messages
	New       func() hash.Hash
	Sum       []byte
}

// commitTimeout is how long the store's writes of a request's bytes may
// go on once the request has ended (its client gone, or told to let go):
// long enough to send a part and commit what arrived.
const commitTimeout = 2 * time.Minute

// lingering returns a context with ctx's values that ends d after ctx does
// (or when cancel is called).
func lingering(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(d, cancel)
		context.AfterFunc(out, func() { t.Stop() })
	})
	return out, func() { stop(); cancel() }
}

// WriteResumable appends body's bytes to r at r.Offset, hashing them on
// the way into the store, and commits them with the hash's state. When
// the body ends early (the client was cut off), what arrived is kept, and
// the client resumes after it; with check set, the bytes are kept only if
// they all hash to it, and otherwise nothing of them is (ErrChecksumMismatch).
// It returns r as it is now, and how many bytes were kept.
func (c *Core) WriteResumable(ctx context.Context, r Resumable, body io.Reader, check *Checksum) (Resumable, int64, error) {
	a, err := c.appender()
	if err != nil {
		return r, 0, err
	}
	if r.FileID != "" {
		return r, 0, failf(ErrAlreadyUploaded, "the upload has all its bytes (file %s): there is nothing more to send", r.FileID)
	}
	h, err := r.hasher()
	if err != nil {
		return r, 0, err
	}
	// The store's writes (S3: a part under way) outlive the request by a
	// while, so that what arrived before the client went can be kept.
	actx, cancel := lingering(ctx, commitTimeout)
	defer cancel()
	w, err := a.Append(actx, keys.Resumable(r.Tenant, r.ID), r.Offset, r.Size)
	if err != nil {
		return r, 0, c.unavailable(ctx, "append", r.ID, err, "could not store the bytes: a storage backend is unavailable; send them again later from the upload's offset")
	}
	var sink io.Writer = h
	var ck hash.Hash
	if check != nil {
		ck = check.New()
		sink = io.MultiWriter(h, ck)
	}
	n, err := copyHashing(w, io.LimitReader(body, r.Size-r.Offset), sink)
	if storeFailed(err) {
		w.Abort()
		return r, 0, c.unavailable(ctx, "append", r.ID, err, "could not store the bytes: a storage backend is unavailable; send them again later from the upload's offset")
	}
	if check != nil && (err != nil || !bytes.Equal(ck.Sum(nil), check.Sum)) {
		w.Abort()
		return r, 0, failf(ErrChecksumMismatch, "the %d bytes received do not hash to the request's Upload-Checksum (%s); none of them was kept: send them again from offset %d", n, check.Algorithm, r.Offset)
	}
	// What arrived is kept even if the client has gone: it resumes after it.
	next := r
	next.Offset += n
	if next.hash, err = h.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
		w.Abort()
		return r, 0, err
	}
	st, err := next.state(now())
	if err == nil {
		err = w.Commit(actx, st)
	}
	if err != nil {
		w.Abort()
		return r, 0, c.unavailable(ctx, "append", r.ID, err, "could not store the bytes durably: a storage backend is unavailable; send them again later from the upload's offset")
	}
	next.Expires = now().Add(c.cfg.PendingTTL)
	return next, n, nil
}
