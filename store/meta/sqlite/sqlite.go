// Package sqlite is the embedded meta.Store: one SQLite file through a pure-Go driver, no cgo.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/perseus-go/perseus/store/meta"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

// Store is a meta.Store kept in one SQLite database file.
type Store struct {
	db *sql.DB
}

var _ meta.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS files (
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
CREATE INDEX IF NOT EXISTS files_status_updated ON files (status, updated_at);
CREATE INDEX IF NOT EXISTS files_tenant_created ON files (tenant, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS api_keys (
	id         TEXT PRIMARY KEY,
	tenant     TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
);
`

// Open opens (creating if needed) the database at path. Writes are durable
// when they return: WAL with synchronous=FULL.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxLifetime(0)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

const fileCols = `id, tenant, name, source_hash, status, size, reason, created_at, updated_at`

type scanner interface{ Scan(...any) error }

func scanFile(r scanner) (meta.File, error) {
	var f meta.File
	var status string
	var created, updated int64
	err := r.Scan(&f.ID, &f.Tenant, &f.Name, &f.SourceHash, &status, &f.Size, &f.Reason, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return f, meta.ErrNotFound
	}
	f.Status = meta.Status(status)
	f.CreatedAt = time.UnixMilli(created).UTC()
	f.UpdatedAt = time.UnixMilli(updated).UTC()
	return f, err
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Claim implements meta.Store.
func (s *Store) Claim(ctx context.Context, f meta.File) (meta.File, bool, error) {
	now := ms(time.Now())
	row := s.db.QueryRowContext(ctx, `
INSERT INTO files (`+fileCols+`) VALUES (?, ?, ?, ?, 'pending', 0, '', ?, ?)
ON CONFLICT (tenant, source_hash) DO UPDATE SET
	status = CASE WHEN status = 'failed' THEN 'pending' ELSE status END,
	reason = CASE WHEN status = 'failed' THEN '' ELSE reason END,
	updated_at = CASE WHEN status = 'failed' THEN excluded.updated_at ELSE updated_at END
RETURNING `+fileCols,
		f.ID, f.Tenant, f.Name, f.SourceHash, ms(f.CreatedAt), now)
	rec, err := scanFile(row)
	if err != nil {
		return meta.File{}, false, fmt.Errorf("sqlite: claim: %w", err)
	}
	return rec, rec.ID == f.ID, nil
}

// Get implements meta.Store.
func (s *Store) Get(ctx context.Context, tenant, id string) (meta.File, error) {
	f, err := scanFile(s.db.QueryRowContext(ctx, `SELECT `+fileCols+` FROM files WHERE id = ? AND tenant = ?`, id, tenant))
	return f, wrap("get", err)
}

// Find implements meta.Store.
func (s *Store) Find(ctx context.Context, tenant string, ids, hashes []string) ([]meta.File, error) {
	files := []meta.File{}
	if len(ids) == 0 && len(hashes) == 0 {
		return files, nil
	}
	args := []any{tenant}
	var conds []string
	if len(ids) > 0 {
		conds = append(conds, "id IN ("+placeholders(len(ids))+")")
		for _, v := range ids {
			args = append(args, v)
		}
	}
	if len(hashes) > 0 {
		conds = append(conds, "source_hash IN ("+placeholders(len(hashes))+")")
		for _, v := range hashes {
			args = append(args, v)
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+fileCols+` FROM files WHERE tenant = ? AND (`+
		strings.Join(conds, " OR ")+`) ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, wrap("find", err)
	}
	return collect(rows, files)
}

func collect(rows *sql.Rows, files []meta.File) ([]meta.File, error) {
	defer rows.Close()
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, wrap("scan", err)
		}
		files = append(files, f)
	}
	return files, wrap("rows", rows.Err())
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Transition implements meta.Store.
func (s *Store) Transition(ctx context.Context, id string, u meta.Update) (meta.File, error) {
	f, err := scanFile(s.db.QueryRowContext(ctx, `
UPDATE files SET status = ?, size = ?, reason = ?, updated_at = ?
WHERE id = ? AND status = ? RETURNING `+fileCols,
		string(u.To), u.Size, u.Reason, ms(time.Now()), id, string(u.From)))
	if errors.Is(err, meta.ErrNotFound) {
		ok, xerr := s.Exists(ctx, id)
		if xerr != nil {
			return meta.File{}, xerr
		}
		if ok {
			return meta.File{}, meta.ErrConflict
		}
	}
	return f, wrap("transition", err)
}

// Delete implements meta.Store.
func (s *Store) Delete(ctx context.Context, tenant, id string) (meta.File, error) {
	f, err := scanFile(s.db.QueryRowContext(ctx, `DELETE FROM files WHERE id = ? AND tenant = ? RETURNING `+fileCols, id, tenant))
	return f, wrap("delete", err)
}

// Stale implements meta.Store.
func (s *Store) Stale(ctx context.Context, st meta.Status, before time.Time, limit int) ([]meta.File, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+fileCols+` FROM files WHERE status = ? AND updated_at < ?
ORDER BY updated_at LIMIT ?`, string(st), ms(before), limit)
	if err != nil {
		return nil, wrap("stale", err)
	}
	return collect(rows, []meta.File{})
}

// Exists implements meta.Store.
func (s *Store) Exists(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM files WHERE id = ?`, id).Scan(&n)
	return n > 0, wrap("exists", err)
}

// PutKey implements meta.Store.
func (s *Store) PutKey(ctx context.Context, k meta.Key) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_keys (id, tenant, hash, created_at) VALUES (?, ?, ?, ?)`,
		k.ID, k.Tenant, k.Hash, ms(k.CreatedAt))
	var se *sqlite3.Error
	if errors.As(err, &se) && (se.Code() == sqlite3lib.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return meta.ErrExists
	}
	return wrap("put key", err)
}

const keyCols = `id, tenant, hash, created_at, revoked_at`

func scanKey(r scanner) (meta.Key, error) {
	var k meta.Key
	var created int64
	var revoked sql.NullInt64
	err := r.Scan(&k.ID, &k.Tenant, &k.Hash, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return k, meta.ErrNotFound
	}
	k.CreatedAt = time.UnixMilli(created).UTC()
	if revoked.Valid {
		t := time.UnixMilli(revoked.Int64).UTC()
		k.RevokedAt = &t
	}
	return k, err
}

// KeyByHash implements meta.Store.
func (s *Store) KeyByHash(ctx context.Context, hash string) (meta.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = ? AND revoked_at IS NULL`, hash))
	return k, wrap("key", err)
}

// Keys implements meta.Store.
func (s *Store) Keys(ctx context.Context) ([]meta.Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyCols+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, wrap("keys", err)
	}
	defer rows.Close()
	keys := []meta.Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, wrap("keys", err)
		}
		keys = append(keys, k)
	}
	return keys, wrap("keys", rows.Err())
}

// RevokeKey implements meta.Store.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, ms(at), id)
	if err != nil {
		return wrap("revoke", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return meta.ErrNotFound
	}
	return nil
}

// Ping implements meta.Store.
func (s *Store) Ping(ctx context.Context) error { return wrap("ping", s.db.PingContext(ctx)) }

// Close implements meta.Store.
func (s *Store) Close() error { return s.db.Close() }

// wrap adds context to an error, leaving the store's sentinels matchable.
func wrap(op string, err error) error {
	if err == nil || errors.Is(err, meta.ErrNotFound) {
		return err
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
