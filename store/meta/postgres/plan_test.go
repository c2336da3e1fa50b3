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
// by walking that tenant's list index (migration 0003); also on a database
// that had collected statistics for tenant before the migration.
func TestLookupsOfATenantTheStatisticsHaveNotSeenTakeTheirKeys(t *testing.T) {
	for _, upgraded := range []bool{false, true} {
		name := map[bool]string{false: "new", true: "upgraded"}[upgraded]
		t.Run(name, func(t *testing.T) { testLookupPlans(t, name, upgraded) })
	}
}

func testLookupPlans(t *testing.T, name string, upgraded bool) {
	base := testenv.PostgresURL(t)
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := "plan_test_" + name
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
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := s.pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	fill := func(tenant string, n int) {
		t.Helper()
		exec(`INSERT INTO files SELECT $1||g, $1, 'n', md5($1||g)||md5(g::text), 'pending', 0, '', now(), now()
FROM generate_series(1, $2::int) g`, tenant, n)
	}
	if upgraded { // as before migration 0003: statistics for tenant, collected
		exec("ALTER TABLE files ALTER COLUMN tenant SET STATISTICS -1")
	}
	fill("old", 20000)
	exec("ANALYZE files")
	if upgraded { // then the migration runs
		m, err := migrations.ReadFile("migrations/0003_tenant_statistics.sql")
		if err != nil {
			t.Fatal(err)
		}
		exec(string(m))
	}
	fill("new", 5000)
	if upgraded {
		exec("ANALYZE files")
	}

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
