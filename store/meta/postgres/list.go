package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/perseus-go/perseus/store/meta"
)

// List implements meta.Store. It walks the (tenant, created_at DESC, id DESC)
// index (migration 0002) from q.After and stops after q.Limit matches.
func (s *Store) List(ctx context.Context, tenant string, q meta.ListQuery) ([]meta.File, error) {
	if q.Limit < 1 {
		return nil, errors.New("postgres: list: limit must be at least 1")
	}
	where := `tenant = $1`
	args := []any{tenant}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.After != nil {
		where += ` AND (created_at, id) < (` + arg(q.After.CreatedAt.UTC()) + `, ` + arg(q.After.ID) + `)`
	}
	if q.Status != "" {
		where += ` AND status = ` + arg(string(q.Status))
	}
	if q.NamePrefix != "" {
		// starts_with, not LIKE: a prefix holding % or _ means those characters.
		where += ` AND starts_with(name, ` + arg(q.NamePrefix) + `::text)`
	}
	lim := arg(q.Limit)
	files, err := collectFiles(s.pool.Query(ctx, `SELECT `+fileCols+` FROM files WHERE `+where+`
ORDER BY created_at DESC, id DESC LIMIT `+lim, args...))
	return files, wrap("list", err)
}
