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
// that had collected statistics for tenant before the migration. HasSize
// is answered from its partial index (tenant, size) of uploaded files
// (migration 0004) and never scans the table, neither in the plan made for
// its arguments nor in the generic one PostgreSQL may keep for its
// prepared statement, made while the table was empty. Usage is answered
// from the partial indexes of uploaded (0004) and pending (0006) files.
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
	// All of one size: the case where a scan looks cheapest to the planner,
	// which expects to meet a match early, and costs most, for a tenant
	// that has none.
	fillUploaded := func(tenant string, n int, size int64) {
		t.Helper()
		exec(`INSERT INTO files SELECT 'up-'||$1||g, $1, 'n', md5('up-'||$1||g)||md5(g::text), 'uploaded', $3, '', now(), now()
FROM generate_series(1, $2::int) g`, tenant, n, size)
	}
	explain := func(rows pgx.Rows, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	check := func(what, plan string, want ...string) {
		t.Helper()
		for _, idx := range want {
			if !strings.Contains(plan, idx) {
				t.Errorf("%s: the plan does not use %s:\n%s", what, idx, plan)
			}
		}
		if strings.Contains(plan, "files_tenant_created") {
			t.Errorf("%s: the plan walks the tenant's list index:\n%s", what, plan)
		}
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: the plan scans the table:\n%s", what, plan)
		}
	}

	// HasSize's statement kept prepared on a connection of the store, as
	// the pool keeps it, with its generic plan made now, on the empty table.
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, sql := range []string{"SET plan_cache_mode = force_generic_plan", "PREPARE has_size AS " + hasSizeSQL} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	generic := func() string {
		t.Helper()
		return explain(conn.Query(ctx, "EXPLAIN EXECUTE has_size('new', 1234)"))
	}
	check("has size, generic plan on the empty table", generic(), "files_tenant_size_uploaded")

	if upgraded { // as before migration 0003: statistics for tenant, collected
		exec("ALTER TABLE files ALTER COLUMN tenant SET STATISTICS -1")
	}
	fill("old", 20000)
	fillUploaded("old", 20000, 1234)
	check("has size, generic plan made on the empty table", generic(), "files_tenant_size_uploaded")
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
		return explain(s.pool.Query(ctx, "EXPLAIN "+sql, args...))
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
		{"has size, none of it", hasSizeSQL, []any{"new", int64(1234)}, []string{"files_tenant_size_uploaded"}},
		{"has size 0", hasSizeSQL, []any{"new", int64(0)}, []string{"files_tenant_size_uploaded"}},
		{"has size, all of it", hasSizeSQL, []any{"old", int64(1234)}, []string{"files_tenant_size_uploaded"}},
		{"usage", usageSQL, []any{"new"}, []string{"files_tenant_size_uploaded", "files_tenant_pending"}},
		{"usage, all uploaded", usageSQL, []any{"old"}, []string{"files_tenant_size_uploaded", "files_tenant_pending"}},
	} {
		check(tc.name, plan(tc.sql, tc.args...), tc.want...)
	}
	check("has size, generic plan after ANALYZE", generic(), "files_tenant_size_uploaded")
}
