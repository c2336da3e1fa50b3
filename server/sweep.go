package server

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// SweepReport counts what one Sweep removed.
type SweepReport struct {
	AbandonedRecords int // pending records older than PendingTTL
	OrphanedObjects  int // content, staged objects or multipart markers no record refers to
	StaleMultipart   int // unfinished multipart uploads idle for PendingTTL
}

// Sweep removes, once, what nothing will ever use again: pending records
// untouched for PendingTTL (with whatever they had staged), content or
// staged objects older than OrphanGrace whose record no longer exists, and
// multipart uploads idle for PendingTTL (SweepMultipart). It runs online,
// beside uploads: it only removes a record that is still pending and
// unchanged, and only content whose record is gone.
func (s *Server) Sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	now := time.Now()
	cutoff := now.Add(-s.cfg.PendingTTL)
	for {
		stale, err := s.cfg.Meta.Stale(ctx, meta.StatusPending, cutoff, 500)
		if err != nil {
			return rep, err
		}
		for _, f := range stale {
			// Deleted only if still pending and untouched since cutoff, the
			// check and the delete in one step: an upload settling it
			// meanwhile, or a create or multipart upload touching it, wins
			// and the record stays. If the delete wins, such an upload
			// finds its record gone and keeps none of its bytes
			// (settleUploaded); what a crash leaves is an orphan, removed
			// below once older than OrphanGrace.
			_, err := s.cfg.Meta.DeleteStale(ctx, f.Tenant, f.ID, meta.StatusPending, cutoff)
			if errors.Is(err, meta.ErrConflict) || errors.Is(err, meta.ErrNotFound) {
				continue // it moved on, or is gone already; leave it
			}
			if err != nil {
				return rep, err
			}
			s.hub.publish(f.ID)
			if err := s.removeContent(ctx, f); err != nil {
				return rep, err
			}
			rep.AbandonedRecords++
		}
		if len(stale) < 500 {
			break
		}
	}
	n, err := s.sweepOrphans(ctx, now.Add(-s.cfg.OrphanGrace))
	rep.OrphanedObjects = n
	if err != nil {
		return rep, err
	}
	rep.StaleMultipart, err = s.SweepMultipart(ctx, cutoff)
	return rep, err
}

// sweepOrphans deletes objects older than before whose record does not exist.
func (s *Server) sweepOrphans(ctx context.Context, before time.Time) (int, error) {
	var orphans []string
	for _, prefix := range []string{"files/", stagingPrefix, multipartPrefix} {
		err := s.cfg.Blobs.List(ctx, prefix, func(i blob.Info) error {
			if i.ModTime.After(before) {
				return nil
			}
			id := recordID(i.Key)
			if id == "" {
				return nil
			}
			ok, err := s.cfg.Meta.Exists(ctx, id)
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
		if err := s.cfg.Blobs.Delete(ctx, k); err != nil {
			return 0, err
		}
	}
	return len(orphans), nil
}

// recordID returns the file id a content, staging or multipart marker key
// belongs to (see keys.go).
func recordID(key string) string {
	parts := strings.Split(key, "/")
	switch {
	case parts[0] == "files" && len(parts) == 5:
		return parts[4]
	case parts[0] == "files" && len(parts) == 4 && parts[2] == "streamed":
		return parts[3]
	case parts[0]+"/" == stagingPrefix && len(parts) >= 4:
		return parts[2]
	case parts[0]+"/" == multipartPrefix && len(parts) == 4:
		return parts[2]
	}
	return ""
}
