package ingest

import (
	"bytes"
	"context"
	"encoding"
	"hash"
	"io"
	"time"

	"github.com/minio/crc64nvme"
	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
)

// Checksum is what one write's bytes must hash to (tus's checksum
// extension): a hash of the algorithm the client named, and its sum.
type Checksum struct {
	Algorithm string // as the client named it, for messages
	New       func() hash.Hash
	Sum       []byte
}

// Checks are what one write of a resumable upload is held to, each
// optional.
type Checks struct {
	// Chunk is what the write's own bytes must hash to (Upload-Checksum).
	Chunk *Checksum
	// FileCRC64 is the CRC-64/NVME the whole file's bytes must have
	// (Perseus-File-Checksum), checked when this write brings the upload
	// to its end and ignored by one that does not.
	FileCRC64 *uint64
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
// the client resumes after it; with check.Chunk set, the bytes are kept
// only if they all hash to it, and otherwise nothing of them is
// (ErrChecksumMismatch). A write that brings the upload to its end with
// check.FileCRC64 set is kept only if the whole file's bytes have that
// CRC; otherwise the upload is discarded (ErrFileChecksumMismatch), since
// which of its bytes went wrong cannot be told.
// It returns r as it is now, and how many bytes were kept.
func (c *Core) WriteResumable(ctx context.Context, r Resumable, body io.Reader, checks Checks) (Resumable, int64, error) {
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
	check := checks.Chunk
	sinks := []io.Writer{h}
	var ck hash.Hash
	if check != nil {
		ck = check.New()
		sinks = append(sinks, ck)
	}
	src := io.LimitReader(body, r.Size-r.Offset)
	var crc *crcWriter
	if r.crc != nil {
		// As the bytes are read, while they are in the cache: on the
		// reading goroutine, not the hashing one, which bounds the pace.
		crc = &crcWriter{*r.crc}
		src = io.TeeReader(src, crc)
	}
	n, err := copyHashing(w, src, io.MultiWriter(sinks...))
	if storeFailed(err) {
		w.Abort()
		return r, 0, c.unavailable(ctx, "append", r.ID, err, "could not store the bytes: a storage backend is unavailable; send them again later from the upload's offset")
	}
	if check != nil && (err != nil || !bytes.Equal(ck.Sum(nil), check.Sum)) {
		w.Abort()
		return r, 0, failf(ErrChecksumMismatch, "the %d bytes received do not hash to the request's Upload-Checksum (%s); none of them was kept: send them again from offset %d", n, check.Algorithm, r.Offset)
	}
	if r.Offset+n == r.Size && checks.FileCRC64 != nil { // even if the body then failed: its bytes are all there
		if err := c.checkFileCRC(ctx, a, r, crc, *checks.FileCRC64, w); err != nil {
			return r, 0, err
		}
	}
	// What arrived is kept even if the client has gone: it resumes after it.
	next := r
	next.Offset += n
	if crc != nil {
		next.crc = &crc.crc
	}
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

// crcWriter keeps the CRC-64/NVME of what it is written.
type crcWriter struct{ crc uint64 }

func (c *crcWriter) Write(p []byte) (int, error) {
	c.crc = crc64nvme.Update(c.crc, p)
	return len(p), nil
}

// CheckEmpty holds an upload of size bytes, when it has none, to the
// whole-file CRC checks declare: no write ends an empty upload (tus ends it
// at its creation), and the CRC-64/NVME of no bytes is 0.
func CheckEmpty(size int64, checks Checks) error {
	if size != 0 || checks.FileCRC64 == nil || *checks.FileCRC64 == 0 {
		return nil
	}
	return failf(ErrFileChecksumMismatch, "an upload of 0 bytes has the CRC-64/NVME 0 (crc64nvme AAAAAAAAAAA=), not the one declared; nothing was created: check what was declared")
}

// checkFileCRC holds r, whose last bytes were just written (crc is the
// CRC of all of them, nil when r keeps none), to the CRC-64/NVME its
// client declared for the whole file. A mismatch discards the upload: the
// fault may be in any of its bytes. Either way but a match, w is aborted.
func (c *Core) checkFileCRC(ctx context.Context, a blob.Appender, r Resumable, crc *crcWriter, want uint64, w blob.AppendWriter) error {
	if crc == nil {
		w.Abort()
		return failf(ErrFileChecksumUnknown, "upload %s began before this server kept a whole-file checksum: send its last bytes without Perseus-File-Checksum, or create a new upload", r.ID)
	}
	if crc.crc == want {
		return nil
	}
	w.Abort()
	if err := a.DeleteAppended(context.WithoutCancel(ctx), keys.Resumable(r.Tenant, r.ID)); err != nil {
		return c.unavailable(ctx, "delete_appended", r.ID, err, "the file's bytes do not match its declared checksum, and the upload could not be discarded: a storage backend is unavailable; create a new upload")
	}
	return failf(ErrFileChecksumMismatch, "the %d bytes received have CRC-64/NVME %016x, not the %016x declared (Perseus-File-Checksum): some were changed on the way or the file changed while it was sent; upload %s was discarded: upload the file again", r.Size, crc.crc, want, r.ID)
}
