package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/internal/watchers"
)

var _ meta.EventLog = (*Store)(nil)

// eventsSchema is the event log: each tenant's latest Seq (event_seq,
// which outlives the tenant's events, so that no Seq is made twice) and
// its events, each with the record as the change left it. Events reads a
// tenant's from the primary key, in Seq order; PruneEvents finds the old
// ones through events_at.
const eventsSchema = `
CREATE TABLE IF NOT EXISTS event_seq (
	tenant TEXT PRIMARY KEY,
	last   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
	tenant      TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	type        TEXT NOT NULL,
	at          INTEGER NOT NULL,
	file_id     TEXT NOT NULL,
	name        TEXT NOT NULL,
	source_hash TEXT NOT NULL,
	kind        TEXT NOT NULL,
	status      TEXT NOT NULL,
	size        INTEGER NOT NULL,
	reason      TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (tenant, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_at ON events (at);
`

// eventNote is what WatchEvents tells of an event: its tenant and Seq.
type eventNote struct {
	tenant string
	seq    int64
}

const eventCols = `seq, tenant, type, at, file_id, name, source_hash, kind, status, size, reason, created_at, updated_at`

// event records the event of type typ, made at at, for f, the record as
// the change left it, in the writer's transaction: the change that calls
// it, in the same write, commits with its event or not at all. The writer
// applies one write at a time, so the tenant's counter gives Seqs in
// commit order, with no gap.
func (w *writer) event(typ meta.EventType, f meta.File, at int64) error {
	var seq int64
	err := w.queryRow(`INSERT INTO event_seq (tenant, last) VALUES (?, 1)
ON CONFLICT (tenant) DO UPDATE SET last = last + 1 RETURNING last`, f.Tenant).Scan(&seq)
	if err != nil {
		return fmt.Errorf("event seq: %w", err)
	}
	if _, err := w.exec(`INSERT INTO events (`+eventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		seq, f.Tenant, string(typ), at, f.ID, f.Name, f.SourceHash, string(f.Kind), string(f.Status), f.Size, f.Reason,
		ms(f.CreatedAt), ms(f.UpdatedAt)); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	w.notes = append(w.notes, eventNote{f.Tenant, seq})
	return nil
}

func scanEvent(r scanner) (meta.Event, error) {
	var e meta.Event
	var typ, kind, status string
	var at, created, updated int64
	f := &e.File
	err := r.Scan(&e.Seq, &e.Tenant, &typ, &at, &f.ID, &f.Name, &f.SourceHash, &kind, &status, &f.Size, &f.Reason,
		&created, &updated)
	e.Type, e.At = meta.EventType(typ), time.UnixMilli(at).UTC()
	f.Tenant, f.Kind, f.Status = e.Tenant, meta.Kind(kind), meta.Status(status)
	f.CreatedAt, f.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return e, err
}

// Events implements meta.EventLog, walking the primary key (tenant, seq)
// from q.After. The types travel as a JSON array, as Find's values do.
func (s *Store) Events(ctx context.Context, tenant string, q meta.EventQuery) ([]meta.Event, error) {
	query := `SELECT ` + eventCols + ` FROM events WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?`
	args := []any{tenant, q.After, q.PageSize()}
	if len(q.Types) > 0 {
		types, err := json.Marshal(q.Types)
		if err != nil {
			return nil, wrap("events", err)
		}
		query = `SELECT ` + eventCols + ` FROM events WHERE tenant = ? AND seq > ?
AND type IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?`
		args = []any{tenant, q.After, string(types), q.PageSize()}
	}
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, wrap("events", err)
	}
	defer rows.Close()
	events := []meta.Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, wrap("events", err)
		}
		events = append(events, e)
	}
	return events, wrap("events", rows.Err())
}

// LastEvent implements meta.EventLog: the tenant's counter.
func (s *Store) LastEvent(ctx context.Context, tenant string) (int64, error) {
	var last int64
	err := s.queryRow(ctx, `SELECT coalesce((SELECT last FROM event_seq WHERE tenant = ?), 0)`, tenant).Scan(&last)
	return last, wrap("last event", err)
}

// pruneBatch is how many events one write of PruneEvents deletes at most.
const pruneBatch = 1000

// PruneEvents implements meta.EventLog, a write of the writer per batch
// (so other writes go between them), each found through events_at. The
// counters stay, so no Seq is made again.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.w.do(ctx, func(w *writer) error {
			res, err := w.exec(`DELETE FROM events WHERE (tenant, seq) IN (
	SELECT tenant, seq FROM events WHERE at < ? LIMIT ?)`, ms(before), pruneBatch)
			if err == nil {
				n, err = res.RowsAffected()
			}
			return err
		})
		if err != nil {
			return total, wrap("prune events", err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

// WatchEvents implements meta.EventLog in this process: the embedded store
// serves one process, and every event is written by its writer, which
// hands the events of each commit to the store's feed.
func (s *Store) WatchEvents(ctx context.Context, fn func(tenant string, seq int64)) error {
	defer s.feed.fns.Add(func(n eventNote) { fn(n.tenant, n.seq) })()
	select {
	case <-ctx.Done():
		return fmt.Errorf("sqlite: watch events: %w", ctx.Err())
	case <-s.feed.done:
		return fmt.Errorf("sqlite: watch events: %w", errClosed)
	}
}

// feed hands the events the writer committed to the WatchEvents under
// way, from a goroutine of its own, so that the writer never waits for a
// watch's fn, and a fn may write to the store. While a fn is slow, the
// events committed meanwhile wait in the queue.
type feed struct {
	fns watchers.Set[eventNote]

	mu    sync.Mutex
	queue []eventNote   // committed, not yet handed out
	wake  chan struct{} // a token when queue may hold some
	quit  chan struct{} // closed by close
	done  chan struct{} // closed when run has returned
	once  sync.Once
}

func newFeed() *feed {
	f := &feed{wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go f.run()
	return f
}

// committed queues notes, the events of one commit, for the watches under
// way; with none, they are let go.
func (f *feed) committed(notes []eventNote) {
	if f.fns.Empty() {
		return
	}
	f.mu.Lock()
	f.queue = append(f.queue, notes...)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *feed) run() {
	defer close(f.done)
	var out []eventNote
	for {
		select {
		case <-f.wake:
		case <-f.quit:
			return
		}
		f.mu.Lock()
		out, f.queue = f.queue, out[:0]
		f.mu.Unlock()
		for _, n := range out {
			f.fns.Publish(n)
		}
	}
}

// close stops the feed; the WatchEvents under way return.
func (f *feed) close() {
	f.once.Do(func() { close(f.quit) })
	<-f.done
}
