// Package postgres is the shared meta.Store: records in PostgreSQL through pgx, for several replicas at once.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/internal/watchers"
)

// Store is a meta.Store kept in PostgreSQL. It is safe for concurrent use,
// including by several processes sharing one database.
type Store struct {
	pool     *pgxpool.Pool
	listen   *listener // the LISTEN connection of Watch, WatchEvents and the locks
	watchers watchers.Set[string]
	events   watchers.Set[eventNote] // WatchEvents
	notices  *notices                // announces the events committed
	locks    locks
}

var _ meta.Store = (*Store)(nil)

// Open connects to the database at url (postgres://user@host:port/db?...) and
// brings its schema up to date. Query parameters pgx does not know itself,
// such as search_path, are sent to the server as run-time parameters, so
// ?search_path=other keeps the tables in schema "other". The pool reconnects
// by itself when the server comes back after an outage.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return newStore(pool), nil
}

// newStore returns the store over pool, its listener not yet started.
func newStore(pool *pgxpool.Pool) *Store {
	s := &Store{pool: pool, locks: locks{meta: pool}, notices: newNotices(pool)}
	s.listen = newListener(pool.Config().ConnConfig, map[string]func(string){
		channel:        s.watchers.Publish,
		eventsChannel:  s.eventNotice,
		releaseChannel: s.locks.requested,
	})
	return s
}

// poolConfig reads the URL into the pool's settings, with this store's
// defaults for what the URL leaves unset.
func poolConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The message may quote the URL, password included: keep only the kind of error.
		return nil, errors.New("postgres: cannot parse the database URL")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// An unreachable server fails at once, not after the OS gives up
		// (minutes); ?connect_timeout=N in the URL overrides this.
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if !strings.Contains(url, "pool_max_conns") { // URL or key=value form
		cfg.MaxConns = defaultMaxConns()
	}

	return cfg, nil
}

// defaultMaxConns is how many connections the pool may keep open unless
// the URL says (pool_max_conns): 4 per CPU this process may use, at least
// 16 and at most 32. pgx's own default, max(4, CPUs), leaves requests
// queueing for a connection while others are in round trips; in bench row
// 6 (32 clients, 2 CPUs) 16 connections gave about 7 % more requests per
// second than 4 on a table already in use (interleaved runs). The cap
// keeps a few replicas within PostgreSQL's default max_connections (100).
func defaultMaxConns() int32 { return int32(min(max(16, 4*runtime.GOMAXPROCS(0)), 32)) }

const fileCols = `id, tenant, name, source_hash, status, size, reason, created_at, updated_at, kind`

// scanFile reads a record (fileCols), and into more whatever columns
// follow it.
func scanFile(r pgx.Row, more ...any) (meta.File, error) {
	var f meta.File
	var status, kind string
	err := r.Scan(append([]any{&f.ID, &f.Tenant, &f.Name, &f.SourceHash, &status, &f.Size, &f.Reason, &f.CreatedAt, &f.UpdatedAt, &kind}, more...)...)
	f.Status = meta.Status(status)
	f.Kind = meta.Kind(kind)
	f.CreatedAt = f.CreatedAt.UTC()
	f.UpdatedAt = f.UpdatedAt.UTC()
	return f, err
}

func collectFiles(rows pgx.Rows, err error) ([]meta.File, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.File, error) { return scanFile(r) })
}

// now is the time the store writes into updated_at: the caller's clock, like
// the before of Stale.
func now() time.Time { return time.Now().UTC() }

// Claim implements meta.Store. One statement does it all, so concurrent
// claims of one hash meet at the unique index and agree on one row; the
// update on conflict leaves kind alone, so a record keeps the kind it was
// created with. The same statement writes the file.created event of a
// record it inserted (see withEvent), which notices then announces.
func (s *Store) Claim(ctx context.Context, f meta.File) (meta.File, bool, error) {
	t := now()
	if f.CreatedAt.IsZero() {
		f.CreatedAt = t
	}
	rec, inserted, seq, err := scanClaim(s.pool.QueryRow(ctx, claimSQL, claimArgs(f, t)...))
	if err != nil {
		return meta.File{}, false, wrap("claim", err)
	}
	s.announce(rec.Tenant, seq)
	return rec, inserted, nil
}

// claimSQL is one claim, and its event if it inserts the record:
// arguments claimArgs, answer scanClaim. Inserted is told by xmax, which
// is 0 in a row the statement inserted, and its transaction's id in one
// it updated.
var claimSQL = withEvent(`
INSERT INTO files AS f (`+fileCols+`) VALUES ($1, $2, $3, $4, 'pending', 0, '', $5, $6, $7)
ON CONFLICT (tenant, source_hash) DO UPDATE SET `+claimUpdate+`
RETURNING `+fileCols+`, (xmax = 0) AS inserted`,
	"c.inserted", "'"+string(meta.EventCreated)+"'", "c.updated_at", "")

// claimUpdate is what a claim does to the record it finds: a failed one
// is reset to pending, a pending one touched, an uploaded one kept.
const claimUpdate = `
	status = CASE WHEN f.status = 'failed' THEN 'pending' ELSE f.status END,
	reason = CASE WHEN f.status = 'failed' THEN '' ELSE f.reason END,
	updated_at = CASE WHEN f.status = 'uploaded' THEN f.updated_at ELSE excluded.updated_at END`

// claimArgs are claimSQL's arguments for a claim of f at t.
func claimArgs(f meta.File, t time.Time) []any {
	return []any{f.ID, f.Tenant, f.Name, f.SourceHash, f.CreatedAt.UTC(), t, string(cmp.Or(f.Kind, meta.KindHashed))}
}

// scanClaim reads claimSQL's answer: the record, whether the claim
// inserted it, and then the Seq of its event (nil otherwise).
func scanClaim(row pgx.Row) (rec meta.File, inserted bool, seq *int64, err error) {
	var status, kind string
	err = row.Scan(&rec.ID, &rec.Tenant, &rec.Name, &rec.SourceHash, &status, &rec.Size, &rec.Reason,
		&rec.CreatedAt, &rec.UpdatedAt, &kind, &inserted, &seq)
	rec.Status = meta.Status(status)
	rec.Kind = meta.Kind(kind)
	rec.CreatedAt, rec.UpdatedAt = rec.CreatedAt.UTC(), rec.UpdatedAt.UTC()
	return rec, inserted, seq, err
}

// Get implements meta.Store.
func (s *Store) Get(ctx context.Context, tenant, id string) (meta.File, error) {
	if !storable(id) {
		return meta.File{}, meta.ErrNotFound
	}
	f, err := scanFile(s.pool.QueryRow(ctx, getSQL, id, tenant))
	return f, wrap("get", err)
}

// Find implements meta.Store. Each half is its own SELECT, the id half
// behind OFFSET 0, so that each is answered from its unique index whatever
// plan PostgreSQL caches for the prepared statement (with an OR, a generic
// plan made while the table was small walks every file of the tenant); the
// second half leaves out what the first found, so each file comes once.
func (s *Store) Find(ctx context.Context, tenant string, ids, hashes []string) ([]meta.File, error) {
	if len(ids) == 0 && len(hashes) == 0 {
		return []meta.File{}, nil
	}
	ids = storables(ids)
	if hashes == nil {
		hashes = []string{}
	}
	// Planned at every run (QueryExecModeExec: an unnamed statement, so a
	// custom plan for these very lists): a plan PostgreSQL keeps for a
	// prepared statement is made from the table as it was, and one made
	// while the table was new scanned it whole as it grew (bench row 6,
	// 10 to 40 ms a Find). Planning it costs tens of microseconds.
	files, err := collectFiles(s.pool.Query(ctx, findSQL, pgx.QueryExecModeExec, tenant, ids, hashes))
	return files, wrap("find", err)
}

// getSQL is Get's query: $1 the id, $2 the tenant.
const getSQL = `SELECT ` + fileCols + ` FROM files WHERE id = $1 AND tenant = $2`

// findSQL is Find's query: $1 the tenant, $2 the ids, $3 the hashes.
const findSQL = `
SELECT ` + fileCols + ` FROM (SELECT ` + fileCols + ` FROM files WHERE id = ANY($2::text[]) OFFSET 0) AS f WHERE tenant = $1
UNION ALL
SELECT ` + fileCols + ` FROM files WHERE tenant = $1 AND source_hash = ANY($3::text[]) AND NOT id = ANY($2::text[])
ORDER BY created_at, id`

// HasSize implements meta.Store. It is answered from the partial index
// files_tenant_size_uploaded (migration 0004). The status is written into
// the query, not passed, so that the planner can prove every plan, the
// generic one PostgreSQL may cache for the prepared statement included,
// within the index; that generic plan takes the index too, even when made
// on an empty table (plan_test.go), so the statement is kept prepared,
// unlike Find's.
func (s *Store) HasSize(ctx context.Context, tenant string, size int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, hasSizeSQL, tenant, size).Scan(&ok)
	return ok, wrap("has size", err)
}

// hasSizeSQL is HasSize's query: $1 the tenant, $2 the size.
const hasSizeSQL = `SELECT EXISTS (SELECT 1 FROM files WHERE tenant = $1 AND size = $2 AND status = 'uploaded')`

// Transition implements meta.Store. The same statement notifies watchers
// (see Watch) of the change and, when the transition makes an event
// (meta.Update.Event), writes it (see withEvent); one that makes none (a
// touch) writes nothing else.
func (s *Store) Transition(ctx context.Context, id string, u meta.Update) (meta.File, error) {
	if !storable(id) {
		return meta.File{}, meta.ErrNotFound
	}
	args := []any{id, string(u.From), string(u.To), u.Size, u.Reason, now()}
	var f meta.File
	var err error
	if typ := u.Event(); typ != "" {
		var seq *int64
		if f, err = scanFile(s.pool.QueryRow(ctx, transitionEventSQL, append(args, string(typ))...), &seq); err == nil {
			s.announce(f.Tenant, seq)
		}
	} else {
		f, err = scanFile(s.pool.QueryRow(ctx, `WITH c AS (`+transitionSQL+`)
SELECT c.* FROM c`+notifyStatus, args...))
	}
	if errors.Is(err, pgx.ErrNoRows) {
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

// transitionSQL is a transition's change: $1 the id, $2 the status it
// must have, $3 to $6 the new status, size, reason and time.
const transitionSQL = `
	UPDATE files SET status = $3, size = $4, reason = $5, updated_at = $6
	WHERE id = $1 AND status = $2 RETURNING ` + fileCols

// notifyStatus joins to a transition's answer (c) the notice to watchers.
const notifyStatus = `
CROSS JOIN LATERAL (SELECT pg_notify('` + channel + `', c.id)) AS n`

// transitionEventSQL is a transition that makes an event, of type $7.
var transitionEventSQL = withEvent(transitionSQL, "true", "$7", "c.updated_at", notifyStatus)

// Delete implements meta.Store. The same statement writes the
// file.deleted event (see withEvent).
func (s *Store) Delete(ctx context.Context, tenant, id string) (meta.File, error) {
	if !storable(id) {
		return meta.File{}, meta.ErrNotFound
	}
	var seq *int64
	f, err := scanFile(s.pool.QueryRow(ctx, deleteSQL, id, tenant, now()), &seq)
	if err == nil {
		s.announce(f.Tenant, seq)
	}
	return f, wrap("delete", err)
}

// deleteSQL deletes the record $1 of tenant $2 at $3, with its event.
var deleteSQL = withEvent(`DELETE FROM files WHERE id = $1 AND tenant = $2 RETURNING `+fileCols,
	"true", "'"+string(meta.EventDeleted)+"'", "$3::timestamptz", "")

// DeleteStale implements meta.Store. The DELETE alone decides: if a
// concurrent Transition or Claim commits first, PostgreSQL re-checks the
// WHERE against the row it wrote, which no longer matches. Only when
// nothing was deleted does a second query tell a conflict from a missing
// record. The same statement writes the file.deleted event of what it
// deletes (see withEvent); like Delete, it notifies no watcher.
func (s *Store) DeleteStale(ctx context.Context, tenant, id string, st meta.Status, before time.Time) (meta.File, error) {
	if !storable(id) {
		return meta.File{}, meta.ErrNotFound
	}
	var seq *int64
	f, err := scanFile(s.pool.QueryRow(ctx, deleteStaleSQL, id, tenant, string(st), before.UTC(), now()), &seq)
	if err == nil {
		s.announce(f.Tenant, seq)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		var ok bool
		if xerr := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE id = $1 AND tenant = $2)`, id, tenant).Scan(&ok); xerr != nil {
			return meta.File{}, wrap("delete stale", xerr)
		}
		if ok {
			return meta.File{}, meta.ErrConflict
		}
	}
	return f, wrap("delete stale", err)
}

// deleteStaleSQL deletes the record $1 of tenant $2 if it is in status $3
// and was last updated before $4, with its event at $5.
var deleteStaleSQL = withEvent(`
	DELETE FROM files WHERE id = $1 AND tenant = $2 AND status = $3 AND updated_at < $4 RETURNING `+fileCols,
	"true", "'"+string(meta.EventDeleted)+"'", "$5::timestamptz", "")

// Stale implements meta.Store. A negative limit means no limit.
func (s *Store) Stale(ctx context.Context, st meta.Status, before time.Time, limit int) ([]meta.File, error) {
	var lim any = limit
	if limit < 0 {
		lim = nil
	}
	files, err := collectFiles(s.pool.Query(ctx, `SELECT `+fileCols+` FROM files
WHERE status = $1 AND updated_at < $2 ORDER BY updated_at, id LIMIT $3`, string(st), before.UTC(), lim))
	return files, wrap("stale", err)
}

// Exists implements meta.Store.
func (s *Store) Exists(ctx context.Context, id string) (bool, error) {
	if !storable(id) {
		return false, nil
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE id = $1)`, id).Scan(&ok)
	return ok, wrap("exists", err)
}

// PutKey implements meta.Store.
func (s *Store) PutKey(ctx context.Context, k meta.Key) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO api_keys (id, tenant, hash, created_at) VALUES ($1, $2, $3, $4)`,
		k.ID, k.Tenant, k.Hash, k.CreatedAt.UTC())
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return meta.ErrExists
	}
	return wrap("put key", err)
}

const keyCols = `id, tenant, hash, created_at, revoked_at`

func scanKey(r pgx.Row) (meta.Key, error) {
	var k meta.Key
	err := r.Scan(&k.ID, &k.Tenant, &k.Hash, &k.CreatedAt, &k.RevokedAt)
	k.CreatedAt = k.CreatedAt.UTC()
	if k.RevokedAt != nil {
		t := k.RevokedAt.UTC()
		k.RevokedAt = &t
	}
	return k, err
}

// KeyByHash implements meta.Store.
func (s *Store) KeyByHash(ctx context.Context, hash string) (meta.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`, hash))
	return k, wrap("key", err)
}

// Keys implements meta.Store.
func (s *Store) Keys(ctx context.Context) ([]meta.Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyCols+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, wrap("keys", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Key, error) { return scanKey(r) })
	return keys, wrap("keys", err)
}

// RevokeKey implements meta.Store. Revoking a revoked key keeps its first revocation time.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	if !storable(id) {
		return meta.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, at.UTC())
	if err != nil {
		return wrap("revoke", err)
	}
	if tag.RowsAffected() == 0 {
		return meta.ErrNotFound
	}
	return nil
}

// Ping implements meta.Store: it checks that a connection can be had and answers.
func (s *Store) Ping(ctx context.Context) error { return wrap("ping", s.pool.Ping(ctx)) }

// Close implements meta.Store; it waits for connections in use to be
// returned. Locks still held are released (their sessions closed) and
// their holders asked to let go; Watch calls return.
func (s *Store) Close() error {
	s.locks.close()
	s.notices.close()
	s.listen.close()
	s.pool.Close()
	return nil
}

// wrap maps "no row" onto meta.ErrNotFound and adds context to any other
// error, leaving the store's sentinels matchable with errors.Is.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return meta.ErrNotFound
	case errors.Is(err, meta.ErrNotFound), errors.Is(err, meta.ErrConflict), errors.Is(err, meta.ErrExists):
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// storable reports whether PostgreSQL can hold s as text: valid UTF-8
// without NUL. Anything else names no record, so it is simply not found
// (rather than an error that would read as the database being down).
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// storables returns the values of vs that PostgreSQL can hold, never nil.
func storables(vs []string) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if storable(v) {
			out = append(out, v)
		}
	}
	return out
}
