package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perseus-go/perseus/store/meta"
)

var _ meta.EventLog = (*Store)(nil)

// eventsChannel is the NOTIFY channel on which each event is announced,
// once committed, by the store that made it (see notices).
const eventsChannel = "perseus_events"

// eventNote is what a notice on eventsChannel tells WatchEvents: the
// tenant and Seq of an event that committed.
type eventNote struct {
	tenant string
	seq    int64
}

// eventCols are the columns of an event: the event, then the record as
// the change left it (of the event's tenant).
const eventCols = `seq, tenant, type, at, file_id, name, source_hash, kind, status, size, reason, created_at, updated_at`

// withEvent returns change, one data-modifying statement that changes at
// most one record and returns it (RETURNING fileCols, and maybe more), as
// one statement that also writes the event of type typ (an SQL
// expression) at at (an SQL expression over c, the change's answer) for
// the record when when (a condition over c) holds for it. Its answer is
// c's, then the Seq of the event (NULL when none; once committed, the
// caller has notices announce it), then whatever tail (a join) adds.
//
// The event's Seq comes from the tenant's counter row in event_seq,
// incremented by the same statement after the change: that row stays
// locked until the transaction ends, so the tenant's transactions that
// write events take their Seqs one after the other, each once the
// previous one has committed (or rolled back, its Seq taken again by the
// next). So Seqs commit in their order, with no gap a reader could read
// past, which a sequence (bigserial) would not give: its values are
// handed out at once, and commit in any order. The counter is the last
// lock the statement takes, so that it is held for no more than the rest
// of the statement and the commit, and no record's lock is ever waited
// for while a counter is held, which could deadlock: a change of several
// records (ClaimAll) locks them all first, then the counters of their
// tenants, in the order of the tenants' names.
func withEvent(change, when, typ, at, tail string) string {
	return `WITH c AS (` + change + `),
s AS (
	INSERT INTO event_seq AS q (tenant, last) SELECT tenant, 1 FROM c WHERE ` + when + `
	ON CONFLICT (tenant) DO UPDATE SET last = q.last + 1
	RETURNING tenant, last
),
e AS (
	INSERT INTO events (` + eventCols + `)
	SELECT s.last, c.tenant, ` + typ + `, ` + at + `, ` + eventFileCols("c") + `
	FROM c JOIN s ON s.tenant = c.tenant
	RETURNING file_id, seq
)
SELECT c.*, e.seq FROM c LEFT JOIN e ON e.file_id = c.id` + tail
}

// eventFileCols are the columns of the record in an event (eventCols
// after the fourth), read from the file columns of rel.
func eventFileCols(rel string) string {
	return rel + `.id, ` + rel + `.name, ` + rel + `.source_hash, ` + rel + `.kind, ` + rel + `.status, ` +
		rel + `.size, ` + rel + `.reason, ` + rel + `.created_at, ` + rel + `.updated_at`
}

func scanEvent(r pgx.Row) (meta.Event, error) {
	var e meta.Event
	var typ, kind, status string
	f := &e.File
	err := r.Scan(&e.Seq, &e.Tenant, &typ, &e.At, &f.ID, &f.Name, &f.SourceHash, &kind, &status, &f.Size, &f.Reason,
		&f.CreatedAt, &f.UpdatedAt)
	e.Type = meta.EventType(typ)
	e.At = e.At.UTC()
	f.Tenant, f.Kind, f.Status = e.Tenant, meta.Kind(kind), meta.Status(status)
	f.CreatedAt, f.UpdatedAt = f.CreatedAt.UTC(), f.UpdatedAt.UTC()
	return e, err
}

// eventsSQL is Events' query: $1 the tenant, $2 the Seq after which, $3
// the types (all when empty), $4 the limit. It walks the primary key
// (tenant, seq) from $2.
const eventsSQL = `SELECT ` + eventCols + ` FROM events
WHERE tenant = $1 AND seq > $2 AND (cardinality($3::text[]) = 0 OR type = ANY($3::text[]))
ORDER BY seq LIMIT $4`

// Events implements meta.EventLog.
func (s *Store) Events(ctx context.Context, tenant string, q meta.EventQuery) ([]meta.Event, error) {
	if !storable(tenant) {
		return []meta.Event{}, nil
	}
	types := make([]string, 0, len(q.Types))
	for _, t := range q.Types {
		if storable(string(t)) {
			types = append(types, string(t))
		}
	}
	if len(q.Types) > 0 && len(types) == 0 {
		return []meta.Event{}, nil // only types no event has
	}
	rows, err := s.pool.Query(ctx, eventsSQL, tenant, q.After, types, q.PageSize())
	if err != nil {
		return nil, wrap("events", err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Event, error) { return scanEvent(r) })
	return events, wrap("events", err)
}

// LastEvent implements meta.EventLog: the tenant's counter, which its
// latest event set in the same transaction.
func (s *Store) LastEvent(ctx context.Context, tenant string) (int64, error) {
	if !storable(tenant) {
		return 0, nil
	}
	var last int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce((SELECT last FROM event_seq WHERE tenant = $1), 0)`, tenant).Scan(&last)
	return last, wrap("last event", err)
}

// pruneBatch is how many events one statement of PruneEvents deletes at most.
const pruneBatch = 1000

// pruneSQL deletes up to $2 events made before $1, skipping those another
// PruneEvents has locked.
const pruneSQL = `DELETE FROM events WHERE (tenant, seq) IN (
	SELECT tenant, seq FROM events WHERE at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`

// PruneEvents implements meta.EventLog, a statement (and a transaction)
// per batch, each found through the index on at. Rows another PruneEvents
// is deleting are skipped, not waited for. The counters stay, so no Seq
// is made again.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, pruneSQL, before.UTC(), pruneBatch)
		if err != nil {
			return total, wrap("prune events", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}

// WatchEvents implements meta.EventLog on the store's listening connection
// (see listener), as Watch does: fn hears of the events of every store
// on this database and schema, this one included, from the NOTIFY each
// sends on eventsChannel once they commit (see notices).
func (s *Store) WatchEvents(ctx context.Context, fn func(tenant string, seq int64)) error {
	defer s.events.Add(func(n eventNote) { fn(n.tenant, n.seq) })()
	return s.listening(ctx, "watch events")
}

// eventNotice handles a notice on eventsChannel (see notifySQL): one of
// this store's schema goes to every WatchEvents under way.
func (s *Store) eventNotice(payload string) {
	var p [3]json.RawMessage
	var schema string
	var n eventNote
	if json.Unmarshal([]byte(payload), &p) != nil || json.Unmarshal(p[0], &schema) != nil ||
		json.Unmarshal(p[1], &n.tenant) != nil || json.Unmarshal(p[2], &n.seq) != nil {
		return
	}
	if schema == s.listen.schema {
		s.events.Publish(n)
	}
}

// announce has notices announce the event of tenant with Seq seq, if there
// is one (seq not nil), once its change has committed.
func (s *Store) announce(tenant string, seq *int64) {
	if seq != nil {
		s.notices.add(tenant, *seq)
	}
}
