package postgres

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/perseus-go/perseus/store/meta"
)

// ClaimAll implements meta.Store: one claim statement per file, sent in
// one batch, which pgx runs as one implicit transaction (one round trip,
// one commit). The claims go in (tenant, hash) order, so that two batches
// sharing hashes take their rows' locks in one order and never deadlock;
// the sort is stable, so of several files of one hash the first given
// makes the record. Created is told by id rather than by xmax: a later
// claim in the same transaction sees the row the earlier one inserted.
func (s *Store) ClaimAll(ctx context.Context, files []meta.File) ([]meta.Claimed, error) {
	if len(files) == 0 {
		return []meta.Claimed{}, nil
	}
	order := make([]int, len(files))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(files[a].Tenant, files[b].Tenant), strings.Compare(files[a].SourceHash, files[b].SourceHash))
	})
	t := now()
	batch := &pgx.Batch{}
	for _, i := range order {
		f := files[i]
		if f.CreatedAt.IsZero() {
			f.CreatedAt = t
		}
		batch.Queue(claimSQL, claimArgs(f, t)...)
	}
	br := s.pool.SendBatch(ctx, batch)
	out := make([]meta.Claimed, len(files))
	for _, i := range order {
		rec, _, err := scanClaim(br.QueryRow())
		if err != nil {
			br.Close()
			return nil, wrap("claim all", err)
		}
		out[i] = meta.Claimed{Rec: rec, Created: rec.ID == files[i].ID}
	}
	// Close reads to the end of the batch, its commit included.
	if err := br.Close(); err != nil {
		return nil, wrap("claim all", err)
	}
	return out, nil
}
