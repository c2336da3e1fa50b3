package sqlite

import (
	"context"
	"errors"

	"github.com/perseus-go/perseus/store/meta"
)

// List implements meta.Store. It walks the (tenant, created_at DESC, id DESC)
// index from q.After and stops after q.Limit matches.
func (s *Store) List(ctx context.Context, tenant string, q meta.ListQuery) ([]meta.File, error) {
	if q.Limit < 1 {
		return nil, errors.New("sqlite: list: limit must be at least 1")
	}
	where := `tenant = ?`
	args := []any{tenant}
	if q.After != nil {
		where += ` AND (created_at, id) < (?, ?)`
		args = append(args, ms(q.After.CreatedAt), q.After.ID)
	}
	if q.Status != "" {
		where += ` AND status = ?`
		args = append(args, string(q.Status))
	}
	if q.NamePrefix != "" {
		// Compared as bytes, so that no collation or LIKE wildcard gets in the way.
		where += ` AND substr(CAST(name AS BLOB), 1, ?) = CAST(? AS BLOB)`
		args = append(args, len(q.NamePrefix), q.NamePrefix)
	}
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, `SELECT `+fileCols+` FROM files WHERE `+where+`
ORDER BY created_at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, wrap("list", err)
	}
	return collect(rows, []meta.File{})
}
