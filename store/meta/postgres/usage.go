package postgres

import (
	"context"

	"github.com/perseus-go/perseus/store/meta"
)

// Usage implements meta.Store. Each half is answered from a partial index
// with its status written into the query, so that every plan, the generic
// one of the prepared statement included, can use it: the uploaded files'
// count and sizes from files_tenant_size_uploaded (tenant, size; migration
// 0004), an index-only scan, and the pending files' count from
// files_tenant_pending (migration 0006). The cost is a walk of the tenant's
// entries in those indexes: its uploaded files, and its pending ones, which
// the sweeper keeps few.
func (s *Store) Usage(ctx context.Context, tenant string) (meta.Usage, error) {
	var pending, uploaded, bytes int64
	err := s.pool.QueryRow(ctx, usageSQL, tenant).Scan(&pending, &uploaded, &bytes)
	return meta.Usage{Files: pending + uploaded, Bytes: bytes}, wrap("usage", err)
}

// usageSQL is Usage's query: $1 the tenant.
const usageSQL = `SELECT
	(SELECT count(*) FROM files WHERE tenant = $1 AND status = 'pending'),
	count(*), coalesce(sum(size), 0)::bigint
FROM files WHERE tenant = $1 AND status = 'uploaded'`
