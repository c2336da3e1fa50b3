package postgres

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perseus-go/perseus/internal/testenv"
)

// TestLookupsOfATenantTheStatisticsHaveNotSeenTakeTheirKeys: on a table
// analyzed while it held one tenant's files, the files of another tenant
// are still found through (tenant, source_hash) and the primary key, not
// by walking that tenant's list index (migration 0003).
func TestLookupsOfATenantTheStatisticsHaveNotSeenTakeTheirKeys(t *testing.T) {
	base := testenv.PostgresURL(t)
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := "plan_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))[:20]
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	fill := func(tenant string, n int) {
		t.Helper()
		if _, err := s.pool.Exec(ctx, `INSERT INTO files SELECT $1||g, $1, 'n', md5($1||g)||md5(g::text), 'pending', 0, '', now(), now()
FROM generate_series(1, $2::int) g`, tenant, n); err != nil {
			t.Fatal(err)
		}
	}
	fill("old", 20000)
	if _, err := s.pool.Exec(ctx, "ANALYZE files"); err != nil {
		t.Fatal(err)
	}
	fill("new", 5000)

	plan := func(sql string, args ...any) string {
		t.Helper()
		rows, err := s.pool.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	for _, tc := range []struct {
		name string
		sql  string
		args []any
		want []string
	}{
		{"find by hash", findSQL, []any{"new", []string{}, []string{"ab", "cd"}}, []string{"files_tenant_source_hash_key", "files_pkey"}},
		{"find by id", findSQL, []any{"new", []string{"new5"}, []string{}}, []string{"files_pkey", "files_tenant_source_hash_key"}},
		{"get", getSQL, []any{"new5", "new"}, []string{"files_pkey"}},
	} {
		p := plan(tc.sql, tc.args...)
		for _, idx := range tc.want {
			if !strings.Contains(p, idx) {
				t.Errorf("%s: the plan does not use %s:\n%s", tc.name, idx, p)
			}
		}
		if strings.Contains(p, "files_tenant_created") {
			t.Errorf("%s: the plan walks the tenant's list index:\n%s", tc.name, p)
		}
	}
}
