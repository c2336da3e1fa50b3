// Package sqlite is the embedded meta.Store: one SQLite file through a pure-Go driver, no cgo.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/perseus-go/perseus/store/meta"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

// Store is a meta.Store kept in one SQLite database file. Reads share a
// pool of connections; writes go through one writer that commits them in
// groups (see writer).
type Store struct {
	db    *sql.DB
	w     *writer
	feed  *feed    // the events the writer commits, to WatchEvents
	stmts sync.Map // query text → *sql.Stmt prepared on db, so that no read parses SQL again
	locks locks    // the names locked (Lock)
}

var _ meta.Store = (*Store)(nil)

// kindColumn is the type and constraints of files.kind, in a new table as
// in one that addKind brings up to date.
const kindColumn = `TEXT NOT NULL DEFAULT 'hashed' CHECK (kind IN ('hashed', 'streamed'))`

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
	kind        ` + kindColumn + `,
	UNIQUE (tenant, source_hash)
);
CREATE INDEX IF NOT EXISTS files_status_updated ON files (status, updated_at);
CREATE INDEX IF NOT EXISTS files_tenant_created ON files (tenant, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS files_tenant_size_uploaded ON files (tenant, size) WHERE status = 'uploaded';
CREATE INDEX IF NOT EXISTS files_tenant_pending ON files (tenant) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS api_keys (
	id         TEXT PRIMARY KEY,
	tenant     TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
);
`

// Open opens (creating if needed) the database at path. Writes are durable
// when they return: WAL with synchronous=FULL, and every write returns only
// after the commit that holds it.
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
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	f := newFeed()
	w, err := newWriter(ctx, db, f.committed)
	if err != nil {
		f.close()
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &Store{db: db, w: w, feed: f}, nil
}

// prepared returns the statement for query, prepared once for the pool.
func (s *Store) prepared(query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prepared(query)
	if err != nil {
		return s.db.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

const fileCols = `id, tenant, name, source_hash, status, size, reason, created_at, updated_at, kind`

type scanner interface{ Scan(...any) error }

func scanFile(r scanner) (meta.File, error) {
	var f meta.File
	var status, kind string
	var created, updated int64
	err := r.Scan(&f.ID, &f.Tenant, &f.Name, &f.SourceHash, &status, &f.Size, &f.Reason, &created, &updated, &kind)
	if errors.Is(err, sql.ErrNoRows) {
		return f, meta.ErrNotFound
	}
	f.Status = meta.Status(status)
	f.Kind = meta.Kind(kind)
	f.CreatedAt = time.UnixMilli(created).UTC()
	f.UpdatedAt = time.UnixMilli(updated).UTC()
	return f, err
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Claim implements meta.Store.
func (s *Store) Claim(ctx context.Context, f meta.File) (meta.File, bool, error) {
	now := ms(time.Now())
	var rec meta.File
	err := s.w.do(ctx, func(w *writer) (err error) {
		rec, _, err = w.claim(f, now)
		return err
	})
	if err != nil {
		return meta.File{}, false, fmt.Errorf("sqlite: claim: %w", err)
	}
	return rec, rec.ID == f.ID, nil
}

// claim is one claim of f, in the writer's transaction, and the
// file.created event of the record if it inserts it (which it reports).
// It inserts the record if there is none; otherwise it updates the one
// there, leaving its kind alone, so a record keeps the kind it was created
// with. The writer applies one write at a time, so nothing comes between
// the two.
func (w *writer) claim(f meta.File, now int64) (meta.File, bool, error) {
	rec, err := scanFile(w.queryRow(`
INSERT INTO files (`+fileCols+`) VALUES (?, ?, ?, ?, 'pending', 0, '', ?, ?, ?)
ON CONFLICT (tenant, source_hash) DO NOTHING
RETURNING `+fileCols,
		f.ID, f.Tenant, f.Name, f.SourceHash, ms(f.CreatedAt), now, string(cmp.Or(f.Kind, meta.KindHashed))))
	if err == nil {
		return rec, true, w.event(meta.EventCreated, rec, now)
	}
	if !errors.Is(err, meta.ErrNotFound) {
		return rec, false, err
	}
	rec, err = scanFile(w.queryRow(`
UPDATE files SET
	status = CASE WHEN status = 'failed' THEN 'pending' ELSE status END,
	reason = CASE WHEN status = 'failed' THEN '' ELSE reason END,
	updated_at = CASE WHEN status = 'uploaded' THEN updated_at ELSE ? END
WHERE tenant = ? AND source_hash = ?
RETURNING `+fileCols, now, f.Tenant, f.SourceHash))
	return rec, false, err
}

// Get implements meta.Store.
func (s *Store) Get(ctx context.Context, tenant, id string) (meta.File, error) {
	f, err := scanFile(s.queryRow(ctx, `SELECT `+fileCols+` FROM files WHERE id = ? AND tenant = ?`, id, tenant))
	return f, wrap("get", err)
}

// Find implements meta.Store. The values travel as two JSON arrays, so that
// one prepared statement serves any number of them, and the two halves are
// separate SELECTs, so that each is answered from its unique index: with an
// OR (or an ORDER BY) SQLite walks every file of the tenant instead.
func (s *Store) Find(ctx context.Context, tenant string, ids, hashes []string) ([]meta.File, error) {
	files := []meta.File{}
	if len(ids) == 0 && len(hashes) == 0 {
		return files, nil
	}
	idsJSON, err := json.Marshal(nonNil(ids))
	if err != nil {
		return nil, wrap("find", err)
	}
	hashesJSON, err := json.Marshal(nonNil(hashes))
	if err != nil {
		return nil, wrap("find", err)
	}
	rows, err := s.query(ctx, `
SELECT `+fileCols+` FROM files WHERE id IN (SELECT value FROM json_each(?2)) AND +tenant = ?1
UNION
SELECT `+fileCols+` FROM files WHERE tenant = ?1 AND source_hash IN (SELECT value FROM json_each(?3))`,
		tenant, string(idsJSON), string(hashesJSON))
	if err != nil {
		return nil, wrap("find", err)
	}
	if files, err = collect(rows, files); err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b meta.File) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return files, nil
}

// HasSize implements meta.Store. The status is written into the query, not
// passed, because SQLite uses the partial index files_tenant_size_uploaded
// only for a query whose WHERE holds its WHERE term as written.
func (s *Store) HasSize(ctx context.Context, tenant string, size int64) (bool, error) {
	var ok bool
	err := s.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE tenant = ? AND size = ? AND status = 'uploaded')`,
		tenant, size).Scan(&ok)
	return ok, wrap("has size", err)
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
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

// Transition implements meta.Store; the same write records the event the
// transition makes, if any (meta.Update.Event).
func (s *Store) Transition(ctx context.Context, id string, u meta.Update) (meta.File, error) {
	var f meta.File
	err := s.w.do(ctx, func(w *writer) (err error) {
		f, err = scanFile(w.queryRow(`
UPDATE files SET status = ?, size = ?, reason = ?, updated_at = ?
WHERE id = ? AND status = ? RETURNING `+fileCols,
			string(u.To), u.Size, u.Reason, ms(time.Now()), id, string(u.From)))
		if errors.Is(err, meta.ErrNotFound) {
			var n int
			if xerr := w.queryRow(`SELECT count(*) FROM files WHERE id = ?`, id).Scan(&n); xerr != nil {
				return xerr
			}
			if n > 0 {
				return meta.ErrConflict
			}
		}
		if typ := u.Event(); err == nil && typ != "" {
			err = w.event(typ, f, ms(f.UpdatedAt))
		}
		return err
	})
	return f, wrap("transition", err)
}

// Delete implements meta.Store; the same write records the file.deleted event.
func (s *Store) Delete(ctx context.Context, tenant, id string) (meta.File, error) {
	var f meta.File
	err := s.w.do(ctx, func(w *writer) (err error) {
		f, err = scanFile(w.queryRow(`DELETE FROM files WHERE id = ? AND tenant = ? RETURNING `+fileCols, id, tenant))
		if err == nil {
			err = w.event(meta.EventDeleted, f, ms(time.Now()))
		}
		return err
	})
	return f, wrap("delete", err)
}

// DeleteStale implements meta.Store. The delete and, when it finds
// nothing, the look for why run in one transaction of the writer, so no
// other write comes between them; so does the file.deleted event of what
// it deletes.
func (s *Store) DeleteStale(ctx context.Context, tenant, id string, st meta.Status, before time.Time) (meta.File, error) {
	var f meta.File
	err := s.w.do(ctx, func(w *writer) (err error) {
		f, err = scanFile(w.queryRow(`
DELETE FROM files WHERE id = ? AND tenant = ? AND status = ? AND updated_at < ? RETURNING `+fileCols,
			id, tenant, string(st), ms(before)))
		if errors.Is(err, meta.ErrNotFound) {
			var n int
			if xerr := w.queryRow(`SELECT count(*) FROM files WHERE id = ? AND tenant = ?`, id, tenant).Scan(&n); xerr != nil {
				return xerr
			}
			if n > 0 {
				return meta.ErrConflict
			}
		}
		if err == nil {
			err = w.event(meta.EventDeleted, f, ms(time.Now()))
		}
		return err
	})
	return f, wrap("delete stale", err)
}

// Stale implements meta.Store.
func (s *Store) Stale(ctx context.Context, st meta.Status, before time.Time, limit int) ([]meta.File, error) {
	rows, err := s.query(ctx, `SELECT `+fileCols+` FROM files WHERE status = ? AND updated_at < ?
ORDER BY updated_at LIMIT ?`, string(st), ms(before), limit)
	if err != nil {
		return nil, wrap("stale", err)
	}
	return collect(rows, []meta.File{})
}

// Exists implements meta.Store.
func (s *Store) Exists(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.queryRow(ctx, `SELECT count(*) FROM files WHERE id = ?`, id).Scan(&n)
	return n > 0, wrap("exists", err)
}

// PutKey implements meta.Store.
func (s *Store) PutKey(ctx context.Context, k meta.Key) error {
	err := s.w.do(ctx, func(w *writer) error {
		_, err := w.exec(`INSERT INTO api_keys (id, tenant, hash, created_at) VALUES (?, ?, ?, ?)`,
			k.ID, k.Tenant, k.Hash, ms(k.CreatedAt))
		return err
	})
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
	k, err := scanKey(s.queryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = ? AND revoked_at IS NULL`, hash))
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
	var n int64
	err := s.w.do(ctx, func(w *writer) error {
		res, err := w.exec(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, ms(at), id)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	if err != nil {
		return wrap("revoke", err)
	}
	if n == 0 {
		return meta.ErrNotFound
	}
	return nil
}

// Ping implements meta.Store.
func (s *Store) Ping(ctx context.Context) error { return wrap("ping", s.db.PingContext(ctx)) }

// Close implements meta.Store. Writes in flight are committed first.
func (s *Store) Close() error {
	err := s.w.close()
	s.feed.close()
	s.stmts.Range(func(_, st any) bool { st.(*sql.Stmt).Close(); return true })
	return errors.Join(err, s.db.Close())
}

// wrap adds context to an error, leaving the store's sentinels matchable.
func wrap(op string, err error) error {
	if err == nil || errors.Is(err, meta.ErrNotFound) {
		return err
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
