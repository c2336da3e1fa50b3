package ingest

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// The direct (presigned) PUT: a client of the v0 contract PUTs the bytes
// to a URL of the store (DirectURL), under a staging key, and never says
// that it is done. The core finds them by listing the staging area
// (VerifyDirect, every VerifyInterval), or is told of them by the store as
// they arrive (Arrived, then VerifyStaged), verifies them and settles the
// record.

// VerifyDirect verifies every direct upload it finds staged, once: what Run
// does every VerifyInterval. It verifies as it lists, a few at a time, each
// by one verifier of this process at a time, and holds no more of the
// listing than the store's page in memory, however many are staged.
func (c *Core) VerifyDirect(ctx context.Context) error {
	var g errgroup.Group
	g.SetLimit(4)
	err := c.blobs.List(ctx, keys.StagingPrefix, func(i blob.Info) error {
		unlock, ok := c.locks.TryLock("verify/" + i.Key)
		if !ok {
			return nil // being verified already
		}
		g.Go(func() error { // waits while 4 are verified: the listing waits with it
			defer unlock()
			if err := c.verifyStaged(ctx, i); err != nil && ctx.Err() == nil {
				c.cfg.Logger.Warn("verify direct upload", "key", i.Key, "err", err)
			}
			return nil
		})
		return ctx.Err()
	})
	return errors.Join(err, g.Wait())
}

// VerifyStaged verifies the direct upload staged under key now, as the
// listing would once it found it: what a notification of its arrival asks
// (Arrived). It does nothing if this process is verifying key already, or
// if nothing is under key (verified already, here or by another replica).
// key must be a staging key (keys.Staged).
func (c *Core) VerifyStaged(ctx context.Context, key string) error {
	if _, _, err := keys.Staged(key); err != nil {
		return err
	}
	unlock, ok := c.locks.TryLock("verify/" + key)
	if !ok {
		return nil // being verified already
	}
	defer unlock()
	i, err := c.blobs.Stat(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.verifyStaged(ctx, i)
}

// verifyStaged hashes one staged object and settles its record: verified
// bytes are copied to the record's content key before it becomes uploaded;
// anything else is removed.
func (c *Core) verifyStaged(ctx context.Context, i blob.Info) error {
	tenant, id, err := keys.Staged(i.Key)
	if err != nil {
		return c.blobs.Delete(ctx, i.Key) // not ours
	}
	rec, err := c.meta.Get(ctx, tenant, id)
	if errors.Is(err, meta.ErrNotFound) || err == nil && rec.Status != meta.StatusPending {
		// Deleted, a second PUT after success, or a file already failed (a
		// new create issues a new URL): nothing here can settle it.
		return c.blobs.Delete(ctx, i.Key)
	}
	if err != nil {
		return err
	}
	v := verdict{want: -1, what: "uploaded bytes", discard: func(ctx context.Context) error { return c.blobs.Delete(ctx, i.Key) }}
	if i.Size > c.cfg.MaxFileSize { // a presigned PUT carries no length limit of its own
		v.refuse = fmt.Sprintf("uploaded %d bytes; this server accepts at most %d", i.Size, c.cfg.MaxFileSize)
	} else if err := c.roomFor(ctx, tenant, false, i.Size); errors.Is(err, ErrQuotaExceeded) || errors.Is(err, ErrOverQuota) {
		v.refuse = "uploaded bytes that do not fit the quota: " + Message(err) // nor was it checked before they were sent
	} else if err != nil {
		return err
	}
	if v.refuse != "" {
		_, err := c.settle(ctx, rec, v)
		return settled(err)
	}
	v.sum, v.size, err = c.hashObject(ctx, i.Key)
	if errors.Is(err, blob.ErrNotFound) {
		return nil // another replica got there first
	}
	if err != nil {
		return err
	}
	dst := keys.Content(rec)
	v.keep = func(ctx context.Context) error {
		if err := c.copyObject(ctx, i.Key, dst); err != nil {
			return err
		}
		copied, err := c.blobs.Stat(ctx, dst)
		if err != nil {
			return err
		}
		// A presigned PUT URL can be replayed until it expires, so the staged
		// bytes may have changed between the hash and the copy. What counts is
		// what was copied, under a key only the core writes: hash that.
		if got, m, err := c.hashObject(ctx, dst); err != nil || got != rec.SourceHash || m != v.size {
			if err == nil {
				err = fmt.Errorf("%w: %s; it will be verified again", errStagedChanged, i.Key)
			}
			return errors.Join(err, c.deleteIf(ctx, dst, copied.ETag))
		}
		return nil
	}
	_, err = c.settle(ctx, rec, v)
	if err == nil || errors.Is(err, ErrGone) || errors.Is(err, ErrFailed) {
		return c.blobs.Delete(ctx, i.Key)
	}
	return settled(err)
}

// errStagedChanged: a staged object's bytes changed between their hash and
// their copy (a presigned URL replayed), which is no store's failure.
var errStagedChanged = errors.New("the staged object changed while it was verified")

// settled is nil for a verdict a background verifier has nothing more to
// do about (the record failed, as it should), and err otherwise.
func settled(err error) error {
	if errors.Is(err, ErrHashMismatch) || errors.Is(err, ErrTooLarge) {
		return nil
	}
	return err
}

// hashObject returns the hex SHA-256 and size of the object under key.
func (c *Core) hashObject(ctx context.Context, key string) (string, int64, error) {
	r, err := c.blobs.Open(ctx, key, 0)
	if err != nil {
		return "", 0, err
	}
	defer r.Close()
	return hashStream(r)
}

// deleteIf removes key if its ETag is still etag, where the store can tell
// (blob.Multiparter); otherwise unconditionally.
func (c *Core) deleteIf(ctx context.Context, key, etag string) error {
	if m, ok := c.blobs.(blob.Multiparter); ok && etag != "" {
		return m.DeleteIf(ctx, key, etag)
	}
	return c.blobs.Delete(ctx, key)
}
