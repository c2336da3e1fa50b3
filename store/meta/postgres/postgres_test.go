package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/metatest"
	"github.com/perseus-go/perseus/store/meta/postgres"
)

// database returns the test database's URL and a pool to administer it, or
// skips the test (fails it in CI) when there is none.
func database(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	base := testenv.PostgresURL(t)
	admin, err := pgxpool.New(context.Background(), base)
	if err != nil {
		t.Fatalf("connect to PERSEUS_TEST_POSTGRES_URL: %v", err)
	}
	t.Cleanup(admin.Close)
	return base, admin
}

// freshSchema creates an empty schema, dropped when t ends, and returns base
// with search_path set to it.
func freshSchema(t *testing.T, base string, admin *pgxpool.Pool) string {
	t.Helper()
	name := "t_" + metatest.NewID()
	ctx := context.Background()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse PERSEUS_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPostgres runs everything that needs a database, so that without one
// the skip is said once.
func TestPostgres(t *testing.T) {
	base, admin := database(t)
	t.Run("Conformance", func(t *testing.T) {
		metatest.Run(t, func(t *testing.T) meta.Store {
			return open(t, freshSchema(t, base, admin))
		})
	})
	t.Run("LockerAcrossReplicas", func(t *testing.T) {
		metatest.RunLocker(t, func(t *testing.T) (meta.Store, meta.Store) {
			u := freshSchema(t, base, admin)
			return open(t, u), open(t, u)
		})
	})
	t.Run("EventsAcrossReplicas", func(t *testing.T) {
		metatest.RunEvents(t, func(t *testing.T) (meta.Store, meta.Store) {
			u := freshSchema(t, base, admin)
			return open(t, u), open(t, u)
		})
	})
	t.Run("WebhooksAcrossReplicas", func(t *testing.T) {
		metatest.RunWebhooks(t, func(t *testing.T) (meta.Store, meta.Store) {
			u := freshSchema(t, base, admin)
			return open(t, u), open(t, u)
		})
	})
	t.Run("LockFreedWhenHolderDies", func(t *testing.T) { testLockFreedWhenHolderDies(t, base, admin) })
	t.Run("CloseFreesLocks", func(t *testing.T) { testCloseFreesLocks(t, base, admin) })
	t.Run("LockAskSurvivesListenerLoss", func(t *testing.T) { testLockAskSurvivesListenerLoss(t, base, admin) })
	t.Run("TablesStayInSearchPath", func(t *testing.T) { testSearchPath(t, base, admin) })
	t.Run("ConcurrentOpen", func(t *testing.T) { testConcurrentOpen(t, base, admin) })
	t.Run("RecoversFromLostConnections", func(t *testing.T) { testRecovers(t, base, admin) })
}

// testSearchPath checks that ?search_path= really isolates a store.
func testSearchPath(t *testing.T, base string, admin *pgxpool.Pool) {
	u := freshSchema(t, base, admin)
	open(t, u)
	q, _ := url.Parse(u)
	var n int
	err := admin.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables
WHERE table_schema = $1 AND table_name IN ('files', 'api_keys', 'schema_migrations')`, q.Query().Get("search_path")).Scan(&n)
	if err != nil || n != 3 {
		t.Fatalf("tables in the test schema: %d, %v; want 3", n, err)
	}
}

// testConcurrentOpen starts four replicas on one empty schema at once: each
// must migrate or find it migrated, and all must then agree on a claim.
func testConcurrentOpen(t *testing.T, base string, admin *pgxpool.Pool) {
	u := freshSchema(t, base, admin)
	const n = 4
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(context.Background(), u) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	f := meta.File{ID: metatest.NewID(), Tenant: "t1", Name: "a.txt", SourceHash: metatest.Hash("a"),
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	first, created, err := stores[0].Claim(context.Background(), f)
	if err != nil || !created {
		t.Fatalf("Claim = created %v, err %v; want created", created, err)
	}
	for i, s := range stores[1:] {
		g := f
		g.ID = metatest.NewID()
		rec, created, err := s.Claim(context.Background(), g)
		if err != nil || created || rec.ID != first.ID {
			t.Fatalf("Claim on replica %d = %+v, created %v, err %v; want %s", i+1, rec, created, err, first.ID)
		}
	}
}

// testRecovers kills the store's server sessions, as a PostgreSQL restart
// would, and expects the store to serve again by itself.
func testRecovers(t *testing.T, base string, admin *pgxpool.Pool) {
	u := freshSchema(t, base, admin)
	s := open(t, u)
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	q, _ := url.Parse(u)
	var killed int
	err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		q.Query().Get("application_name")).Scan(&killed)
	if err != nil || killed == 0 {
		t.Fatalf("terminate the store's sessions: %d killed, %v", killed, err)
	}
	var last error
	for range 10 {
		if _, last = s.Get(ctx, "t1", metatest.NewID()); errors.Is(last, meta.ErrNotFound) {
			return
		}
		if errors.Is(last, meta.ErrConflict) || errors.Is(last, meta.ErrExists) {
			t.Fatalf("a lost connection was mapped to a sentinel: %v", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("store did not recover after its connections were killed: %v", last)
}

// TestUnreachableIsNotASentinel needs no database: a refused connection must
// come back as an error of its own, which the server answers with 503.
func TestUnreachableIsNotASentinel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if errors.Is(err, meta.ErrNotFound) || errors.Is(err, meta.ErrConflict) || errors.Is(err, meta.ErrExists) {
		t.Fatalf("Open error %v is a store sentinel", err)
	}
}
