package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// ClaimAll implements meta.Store. Its claims are one write of the writer,
// so they run in one savepoint of one group commit: one fsync for all of
// them (and for whatever other writes share that commit), all or none.
// SQLite has one writer, so there is no lock order to keep. The events of
// the records they create are recorded by the same write, in the order of
// the files given.
func (s *Store) ClaimAll(ctx context.Context, files []meta.File) ([]meta.Claimed, error) {
	if len(files) == 0 {
		return []meta.Claimed{}, nil
	}
	now := ms(time.Now())
	out := make([]meta.Claimed, len(files))
	err := s.w.do(ctx, func(w *writer) error {
		for i, f := range files {
			rec, _, err := w.claim(f, now)
			if err != nil {
				return err
			}
			out[i] = meta.Claimed{Rec: rec, Created: rec.ID == f.ID}
		}
		return nil
	})
	if err != nil {
		// out is not read: the writer may still be filling it when ctx ended.
		return nil, fmt.Errorf("sqlite: claim all: %w", err)
	}
	return out, nil
}
