package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// SweepReport counts what one Sweep removed.
type SweepReport struct {
	AbandonedRecords int   // pending records older than PendingTTL
	OrphanedObjects  int   // content, staged objects or multipart markers no record refers to
	StaleMultipart   int   // unfinished multipart uploads idle for PendingTTL
	ExpiredResumable int   // resumable (tus) uploads idle for PendingTTL, finished ones included
	PrunedEvents     int64 // events older than EventRetention, every tenant's
}

// Sweep removes, once, what nothing will ever use again: pending records
// untouched for PendingTTL (with whatever they had staged), content or
// staged objects older than OrphanGrace whose record no longer exists, and
// multipart uploads and resumable uploads idle for PendingTTL
// (SweepMultipart, sweepResumable), and events older than EventRetention.
// It runs online, beside uploads: it only removes a record that is still
// pending and unchanged, and only content whose record is gone.
func (c *Core) Sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	now := time.Now()
	cutoff := now.Add(-c.cfg.PendingTTL)
	for {
		stale, err := c.meta.Stale(ctx, meta.StatusPending, cutoff, 500)
		if err != nil {
			return rep, err
		}
		for _, f := range stale {
			// Deleted only if still pending and untouched since cutoff, the
			// check and the delete in one step: an upload settling it
			// meanwhile, or a create or multipart upload touching it, wins
			// and the record stays. If the delete wins, such an upload
			// finds its record gone and keeps none of its bytes
			// (settle); what a crash leaves is an orphan, removed
			// below once older than OrphanGrace.
			_, err := c.meta.DeleteStale(ctx, f.Tenant, f.ID, meta.StatusPending, cutoff)
			if errors.Is(err, meta.ErrConflict) || errors.Is(err, meta.ErrNotFound) {
				continue // it moved on, or is gone already; leave it
			}
			if err != nil {
				return rep, err
			}
			c.hub.publish(f.ID)
			if err := c.removeContent(ctx, f); err != nil {
				return rep, err
			}
			rep.AbandonedRecords++
		}
		if len(stale) < 500 {
			break
		}
	}
	n, err := c.sweepOrphans(ctx, now.Add(-c.cfg.OrphanGrace))
	rep.OrphanedObjects = n
	if err != nil {
		return rep, err
	}
	rep.StaleMultipart, err = c.SweepMultipart(ctx, cutoff)
	if err != nil {
		return rep, err
	}
	rep.ExpiredResumable, err = c.sweepResumable(ctx, cutoff)
	if err != nil {
		return rep, err
	}
	rep.PrunedEvents, err = c.pruneEvents(ctx, now)
	return rep, err
}

// sweepOrphans deletes objects older than before whose record does not exist.
func (c *Core) sweepOrphans(ctx context.Context, before time.Time) (int, error) {
	var orphans []string
	for _, prefix := range []string{keys.ContentPrefix, keys.StagingPrefix, keys.MultipartPrefix} {
		err := c.blobs.List(ctx, prefix, func(i blob.Info) error {
			if i.ModTime.After(before) {
				return nil
			}
			id := keys.RecordOf(i.Key)
			if id == "" { // none of a record's, or an open upload's marker, which SweepMultipart ages out
				return nil
			}
			ok, err := c.meta.Exists(ctx, id)
			if err != nil {
				return err
			}
			if !ok {
				orphans = append(orphans, i.Key)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	for _, k := range orphans {
		if err := c.blobs.Delete(ctx, k); err != nil {
			return 0, err
		}
	}
	return len(orphans), nil
}

// SweepMultipart discards every unfinished multipart upload that began (in
// the store) or was last written to (through the server) before before,
// with the parts it holds, and returns how many it discarded. A client
// resuming such an upload later starts it again. Sweep calls it with a
// cutoff well beyond any upload still in progress.
func (c *Core) SweepMultipart(ctx context.Context, before time.Time) (int, error) {
	return c.parts.sweep(ctx, before)
}
