package postgres

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/store/meta"
)

// TestOpenGivesOlderDatabasesTheirKinds: a database migrated up to 0004,
// before files.kind, gets the column from 0005 when a store opens it, its
// records marked streamed by their id's version digit (8, at index 14 of a
// 36-character id) streamed and the others hashed.
func TestOpenGivesOlderDatabasesTheirKinds(t *testing.T) {
	base := testenv.PostgresURL(t)
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const schema = "kind_upgrade_test"
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var before []migration
	for _, m := range ms {
		if m.version < 5 {
			before = append(before, m)
		}
	}
	old, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := apply(ctx, old, before); err != nil {
		t.Fatalf("migrations up to 0004: %v", err)
	}
	const (
		streamedID = "0194f6a2-7c3e-8abc-8def-0123456789ab"
		v7ID       = "0194f6a2-7c3e-7abc-8def-0123456789ab"
		otherID    = "0194f6a27c3e8abc8def0123456789ab" // an 8 at index 14, but not a UUID's shape
	)
	for _, id := range []string{streamedID, v7ID, otherID} {
		if _, err := old.Exec(ctx, `INSERT INTO files (id, tenant, name, source_hash, status, size, reason, created_at, updated_at)
VALUES ($1, 't1', $1, md5($1), 'uploaded', 1, '', now(), now())`, id); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	s, err := Open(ctx, u.String())
	if err != nil {
		t.Fatalf("Open of a database migrated up to 0004: %v", err)
	}
	defer s.Close()
	for id, kind := range map[string]meta.Kind{streamedID: meta.KindStreamed, v7ID: meta.KindHashed, otherID: meta.KindHashed} {
		if f, err := s.Get(ctx, "t1", id); err != nil || f.Kind != kind {
			t.Errorf("Get(%s) = %+v, %v; want kind %q", id, f, err, kind)
		}
	}
	// The column refuses a kind the store does not know.
	_, _, err = s.Claim(ctx, meta.File{ID: "x", Tenant: "t1", Name: "x", SourceHash: "x", Kind: "other", CreatedAt: time.Now()})
	if err == nil {
		t.Error("Claim of kind \"other\" succeeded")
	}
}
