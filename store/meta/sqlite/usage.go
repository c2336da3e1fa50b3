package sqlite

import (
	"context"

	"github.com/perseus-go/perseus/store/meta"
)

// Usage implements meta.Store. Each half is answered from a partial index
// that covers it: the uploaded files' count and sizes from
// files_tenant_size_uploaded (tenant, size), the pending files' count from
// files_tenant_pending (tenant), both with their status written into the
// query, as SQLite needs to use a partial index. The cost is a walk of the
// tenant's entries in those indexes: its uploaded files, and its pending
// ones, which the sweeper keeps few.
func (s *Store) Usage(ctx context.Context, tenant string) (meta.Usage, error) {
	var pending, uploaded, bytes int64
	err := s.queryRow(ctx, `SELECT
	(SELECT count(*) FROM files WHERE tenant = ?1 AND status = 'pending'),
	count(*), coalesce(sum(size), 0)
FROM files WHERE tenant = ?1 AND status = 'uploaded'`, tenant).Scan(&pending, &uploaded, &bytes)
	return meta.Usage{Files: pending + uploaded, Bytes: bytes}, wrap("usage", err)
}
