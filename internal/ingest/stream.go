package ingest

import (
	"context"
	"errors"
	"io"

	"github.com/google/uuid"
	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// Stream takes a new file's bytes before their hash: body, exactly length
// bytes, named name. They are hashed on their way into the store, and the
// file is recorded under the hash they turned out to have, so that a client
// need not read the file twice, once to hash it and once to send it.
//
// It is for content the caller does not have: if the tenant has an uploaded
// file of the same size, it fails with ErrHashFirst before it reads a byte,
// and the client goes the contract's way (hash, create) instead, which never
// sends content the server has. Content that turns out to be there all the
// same (another upload of it finished meanwhile) is discarded, and the file
// that has it is the answer, with existing true.
func (c *Core) Stream(ctx context.Context, tenant, name string, body io.Reader, length int64) (f meta.File, existing bool, err error) {
	switch max := c.streamMax(); {
	case length < 0:
		return f, false, failf(ErrLengthRequired, "send the file with a Content-Length: this endpoint takes a file of known size, at most %d bytes (streamMaxSize)", max)
	case length > max:
		return f, false, failf(ErrTooLarge, "the file is %d bytes; this endpoint takes at most %d (streamMaxSize): send it in parts instead (see /api/v0/limits)", length, max)
	}
	if err := c.hashFirst(ctx, tenant, length, hashAndCreate); err != nil {
		return f, false, err
	}
	// A new file, as far as anyone can tell before the hash: content of a
	// pending record at the files quota is refused here, and taken by the
	// contract's way (create), which finds that record.
	if err := c.roomFor(ctx, tenant, true, length); err != nil {
		return f, false, err
	}
	rec := meta.File{ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Name: name, Kind: meta.KindStreamed, CreatedAt: now()}
	key := keys.Content(rec)
	bw, sum, n, err := c.copyIn(ctx, key, rec.ID, body, length)
	if err != nil {
		return f, false, err
	}
	abort := func(context.Context) error { return bw.Abort() }
	// The record comes before the commit: committed bytes without a record
	// are an orphan to the sweeper. The hash is known, nothing is stored
	// yet, and content the caller has already is not stored at all.
	ctx = context.WithoutCancel(ctx) // settle what is begun, even if the client goes
	rec.SourceHash = sum
	got, created, err := c.meta.Claim(ctx, rec)
	switch {
	case err != nil:
		bw.Abort()
		return f, false, err
	case !created && got.Status == meta.StatusUploaded:
		bw.Abort()
		return got, true, nil
	case created:
		f, err := c.settle(ctx, got, verdict{sum: sum, size: n, want: -1, what: "streamed bytes",
			keep: bw.Commit, failOnKeep: true, discard: abort})
		if errors.Is(err, ErrGone) {
			err = failf(ErrGone, "the file was deleted while its bytes were being stored; nothing was kept")
		}
		return f, false, err
	}
	// A pending record of this content (Claim made a failed one pending
	// again) gets these bytes, copied from where they were written.
	defer c.blobs.Delete(ctx, key)
	f, err = c.settle(ctx, got, verdict{sum: sum, size: n, want: -1, what: "streamed bytes", discard: abort,
		keep: func(ctx context.Context) error {
			if err := bw.Commit(ctx); err != nil {
				return err
			}
			return c.copyObject(ctx, key, keys.Content(got))
		}})
	return f, true, err
}

// streamMax is the largest file Stream takes: what the store writes in one
// streamed request (blob.SizedCreator), or any file it takes.
func (c *Core) streamMax() int64 {
	if sc, ok := c.blobs.(blob.SizedCreator); ok {
		return min(c.cfg.MaxFileSize, sc.MaxSized())
	}
	return c.cfg.MaxFileSize
}

// copyObject copies the object under src to dst, within the store where it
// can copy.
func (c *Core) copyObject(ctx context.Context, src, dst string) error {
	if cp, ok := c.blobs.(blob.Copier); ok {
		return cp.Copy(ctx, src, dst)
	}
	r, err := c.blobs.Open(ctx, src, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := c.blobs.Create(ctx, dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return err
	}
	return w.Commit(ctx)
}
