package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/meta"
)

// verdict is what one way of arrival found its bytes to be, and how to
// keep or discard them. Every way ends in settle with one.
type verdict struct {
	sum  string // hex SHA-256 of the bytes that arrived
	size int64  // how many there were
	want int64  // the size they must have; -1 for any
	what string // the bytes, named for a person: "uploaded bytes", "bytes of the parts"
	// refuse, when set, is why the bytes cannot be taken whatever they hash
	// to (too many of them, say): the record fails with it as the reason.
	refuse string
	// keep makes the bytes rec's content, durably, at its content key; nil
	// when they are there already (a completed direct multipart upload).
	keep func(context.Context) error
	// failOnKeep marks the record failed when keep fails, for a record that
	// no other upload is under way for (a stream's own); otherwise it stays
	// pending, for the client to send again.
	failOnKeep bool
	// keepFailed says what the client may do when keep fails; empty: send
	// the bytes again.
	keepFailed string
	// discard removes the bytes, wherever they are before keep: an
	// uncommitted write, a staged object, an assembly, the object of a
	// direct multipart upload.
	discard func(context.Context) error
	// recordFirst discards wrong bytes only once the record says failed,
	// and answers ErrUnavailable, keeping them, when it cannot say so: for
	// bytes a retry finds where they are and verifies again (the parts of
	// a multipart upload), so that a retry ends in the verdict.
	recordFirst bool
}

// settle is the one step every upload ends in. Bytes that hash to rec's
// sourceHash (and have the size they must) are kept, durably, and only then
// does the record say uploaded; any other bytes are discarded and the
// record says failed, with the reason. If the record went away meanwhile
// (deleted by its owner, or by the sweeper after PendingTTL without an
// upload) or failed, nothing is kept: the bytes are removed from wherever
// they went, and content a failed removal leaves has no record, so the
// sweeper removes it once older than OrphanGrace. settleAll, for many
// records whose bytes are kept together, takes the same steps (reject,
// keepFailed, record).
func (c *Core) settle(ctx context.Context, rec meta.File, v verdict) (meta.File, error) {
	if reason := v.reasonAgainst(rec); reason != "" {
		return c.reject(ctx, rec, v, reason)
	}
	if v.keep != nil {
		if err := v.keep(ctx); err != nil {
			return rec, c.keepFailed(ctx, rec, v, err)
		}
	}
	return c.record(ctx, rec, v)
}

// reasonAgainst says why the bytes of v cannot be rec's content, or ""
// when they can: they hash to its sourceHash and have the size they must.
func (v verdict) reasonAgainst(rec meta.File) string {
	if v.refuse == "" && (v.sum != rec.SourceHash || v.want >= 0 && v.size != v.want) {
		return fmt.Sprintf("the %d %s hash to %s, not to the declared sourceHash", v.size, v.what, v.sum)
	}
	return v.refuse
}

// reject is settle for bytes that cannot be rec's content, for reason:
// they are discarded and the record says failed.
func (c *Core) reject(ctx context.Context, rec meta.File, v verdict, reason string) (meta.File, error) {
	if !v.recordFirst {
		c.drop(ctx, rec, "discard bytes that failed verification", v.discard)
	}
	f, err := c.transition(ctx, rec, meta.StatusFailed, 0, reason)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		c.cfg.Logger.ErrorContext(ctx, "mark failed", "id", rec.ID, "err", err)
		if v.recordFirst {
			return rec, failf(ErrUnavailable, "the %s do not hash to the sourceHash, and the verdict could not be recorded: a storage backend is unavailable; complete again later", v.what)
		}
	}
	if v.recordFirst {
		c.drop(ctx, rec, "discard bytes that failed verification", v.discard)
	}
	if f.Status == meta.StatusUploaded { // another upload got there first
		return f, nil
	}
	if v.refuse != "" {
		return rec, failf(ErrTooLarge, "%s", reason)
	}
	return rec, failf(ErrHashMismatch, "%s; the file is marked failed and the %s were discarded", reason, v.what)
}

// keepFailed is settle's answer when keeping verified bytes failed with
// err: nothing was kept.
func (c *Core) keepFailed(ctx context.Context, rec meta.File, v verdict, err error) error {
	if errors.Is(err, errStagedChanged) {
		return err // nothing failed: the bytes are verified again
	}
	if v.failOnKeep {
		if _, ferr := c.transition(ctx, rec, meta.StatusFailed, 0, "the "+v.what+" could not be stored"); ferr != nil {
			c.cfg.Logger.ErrorContext(ctx, "mark failed", "id", rec.ID, "err", ferr)
		}
	}
	msg := cmp.Or(v.keepFailed, "could not store the bytes durably; nothing was kept, send them again")
	return c.unavailable(ctx, "commit", rec.ID, err, msg)
}

// record is settle's last step, once verified bytes are kept: the record
// says uploaded, or, gone or failed meanwhile, the bytes are removed.
func (c *Core) record(ctx context.Context, rec meta.File, v verdict) (meta.File, error) {
	f, err := c.transition(ctx, rec, meta.StatusUploaded, v.size, "")
	if err == nil {
		return f, nil
	}
	if errors.Is(err, meta.ErrNotFound) || errors.Is(err, meta.ErrConflict) {
		c.drop(ctx, rec, "discard bytes of a file that went away", func(ctx context.Context) error {
			return errors.Join(c.blobs.Delete(ctx, keys.Content(rec)), c.parts.removeAll(ctx, rec))
		})
		if errors.Is(err, meta.ErrNotFound) {
			return rec, failf(ErrGone, "the file was deleted before its upload was recorded (by a DELETE, or by the server because it stayed pending longer than the server's pending TTL); the bytes were discarded: create the file again for a fresh upload URL")
		}
		return rec, ErrFailed
	}
	c.cfg.Logger.ErrorContext(ctx, "mark uploaded", "id", rec.ID, "err", err)
	return rec, ErrUnavailable
}

// drop runs discard, if any, logging its failure: what it leaves, the
// sweeper removes.
func (c *Core) drop(ctx context.Context, rec meta.File, what string, discard func(context.Context) error) {
	if discard == nil {
		return
	}
	if err := discard(ctx); err != nil {
		c.cfg.Logger.WarnContext(ctx, what, "id", rec.ID, "err", err)
	}
}

// transition moves rec to status to, from pending or from failed, and
// wakes waiters. A record another request already made uploaded (or made
// to) is returned as it is; one deleted meanwhile, by its owner or by the
// sweeper (which deletes only what no transition has moved, see Sweep), is
// meta.ErrNotFound.
func (c *Core) transition(ctx context.Context, rec meta.File, to meta.Status, size int64, reason string) (meta.File, error) {
	from := meta.StatusPending
	for range 3 {
		f, err := c.meta.Transition(ctx, rec.ID, meta.Update{From: from, To: to, Size: size, Reason: reason})
		if err == nil {
			c.hub.publish(rec.ID)
			return f, nil
		}
		if !errors.Is(err, meta.ErrConflict) {
			return f, err
		}
		cur, err := c.meta.Get(ctx, rec.Tenant, rec.ID)
		if err != nil {
			return cur, err
		}
		if cur.Status == meta.StatusUploaded || cur.Status == to {
			return cur, nil
		}
		from = cur.Status
	}
	return rec, meta.ErrConflict
}

// touch marks rec as still being uploaded: the sweeper removes pending
// records whose updated_at is older than PendingTTL, and a multipart upload
// may last longer.
func (c *Core) touch(ctx context.Context, rec meta.File) error {
	if rec.Status != meta.StatusPending {
		return nil
	}
	_, err := c.meta.Transition(ctx, rec.ID,
		meta.Update{From: meta.StatusPending, To: meta.StatusPending, Size: rec.Size, Reason: rec.Reason})
	switch {
	case err == nil, errors.Is(err, meta.ErrConflict): // settled meanwhile: nothing to keep alive
		return nil
	case errors.Is(err, meta.ErrNotFound):
		return ErrNotFound
	}
	return err
}
