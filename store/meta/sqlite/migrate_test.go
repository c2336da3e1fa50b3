package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/metatest"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// schemaBeforeKind is the files table as stores made it before files.kind.
const schemaBeforeKind = `
CREATE TABLE files (
	id          TEXT PRIMARY KEY,
	tenant      TEXT NOT NULL,
	name        TEXT NOT NULL,
	source_hash TEXT NOT NULL,
	status      TEXT NOT NULL,
	size        INTEGER NOT NULL DEFAULT 0,
	reason      TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	UNIQUE (tenant, source_hash)
);
CREATE INDEX files_status_updated ON files (status, updated_at);
CREATE INDEX files_tenant_created ON files (tenant, created_at DESC, id DESC);
CREATE INDEX files_tenant_size_uploaded ON files (tenant, size) WHERE status = 'uploaded';
CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	tenant     TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
);
`

// TestOpenGivesOlderDatabasesTheirKinds: a database made before files.kind
// gets the column when opened, its records marked streamed by their id's
// version digit (8, at index 14 of a 36-character id) streamed and the
// others hashed; and only once, so a hashed record claimed since, whatever
// its id, stays hashed when the database is opened again.
func TestOpenGivesOlderDatabasesTheirKinds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	const (
		streamedID = "0194f6a2-7c3e-8abc-8def-0123456789ab"
		v7ID       = "0194f6a2-7c3e-7abc-8def-0123456789ab"
		otherID    = "0194f6a27c3e8abc8def0123456789ab" // an 8 at index 14, but not a UUID's shape
	)
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.ExecContext(ctx, schemaBeforeKind); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for _, id := range []string{streamedID, v7ID, otherID} {
		if _, err := old.ExecContext(ctx, `INSERT INTO files (id, tenant, name, source_hash, status, size, reason, created_at, updated_at)
VALUES (?, 't1', ?, ?, 'uploaded', 1, '', ?, ?)`, id, id, metatest.Hash(id), now, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	want := map[string]meta.Kind{streamedID: meta.KindStreamed, v7ID: meta.KindHashed, otherID: meta.KindHashed}
	check := func(s *sqlite.Store) {
		t.Helper()
		for id, kind := range want {
			if f, err := s.Get(ctx, "t1", id); err != nil || f.Kind != kind {
				t.Errorf("Get(%s) = %+v, %v; want kind %q", id, f, err, kind)
			}
		}
	}
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of a database made before files.kind: %v", err)
	}
	check(s)
	later := meta.File{ID: "0194f6a2-7c3f-8abc-8def-0123456789ab", Tenant: "t1", Name: "later",
		SourceHash: metatest.Hash("later"), Kind: meta.KindHashed, CreatedAt: time.Now()}
	if rec, _, err := s.Claim(ctx, later); err != nil || rec.Kind != meta.KindHashed {
		t.Fatalf("Claim = %+v, %v; want it hashed", rec, err)
	}
	want[later.ID] = meta.KindHashed
	// The column added refuses a kind the store does not know, as a new one does.
	odd := meta.File{ID: "x", Tenant: "t1", Name: "x", SourceHash: "x", Kind: "other", CreatedAt: time.Now()}
	if _, _, err := s.Claim(ctx, odd); err == nil {
		t.Error("Claim of kind \"other\" succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer s.Close()
	check(s)
}
