package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// notices sends the NOTIFY on eventsChannel of each event this store's
// changes commit: after the commit, from a goroutine of its own, all the
// events committed since its last statement in one statement.
//
// Not from the statement that writes the event, though that would tie the
// notice to the commit: PostgreSQL serializes the commits of all the
// transactions that NOTIFY, in the whole cluster, under one lock held
// through the commit's WAL flush (so that notices queue in commit order).
// In the change's transaction, that lock would make every change that
// writes an event, of any tenant, commit one at a time, each with its own
// flush; measured, it doubled the time of parallel claims of several
// tenants even without flushes. Here the lock is taken by a transaction
// that writes nothing, so flushes nothing, once per batch. The price: a
// notice is lost if the process stops between the commit and the notice,
// or if the database cannot be reached then; the event is in the log all
// the same (see meta.EventLog.WatchEvents).
type notices struct {
	pool *pgxpool.Pool

	mu      sync.Mutex
	tenants []string // the events committed and not yet announced, in the order they were noted
	seqs    []int64
	wake    chan struct{} // a token when some may wait
	quit    chan struct{} // closed by close
	done    chan struct{} // closed once run has returned
	once    sync.Once
}

// noticeBatch is how many events one statement announces at most.
const noticeBatch = 1000

// noticeTimeout bounds one statement of notices.
const noticeTimeout = 5 * time.Second

// notifySQL announces the events $1 (tenants) and $2 (Seqs), each in the
// payload eventNotice reads: a JSON array of the schema of the store's
// tables, the tenant and the Seq. A channel is the whole database's, so
// the schema lets a store keep the notices of its own tables.
const notifySQL = `SELECT pg_notify('` + eventsChannel + `', json_build_array(current_schema(), e.tenant, e.seq)::text)
FROM unnest($1::text[], $2::bigint[]) AS e (tenant, seq)`

func newNotices(pool *pgxpool.Pool) *notices {
	n := &notices{pool: pool, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go n.run()
	return n
}

// add notes the event of tenant with this Seq, which has committed, for
// the next statement.
func (n *notices) add(tenant string, seq int64) {
	n.mu.Lock()
	n.tenants, n.seqs = append(n.tenants, tenant), append(n.seqs, seq)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notices) run() {
	defer close(n.done)
	for {
		select {
		case <-n.wake:
			n.send()
		case <-n.quit:
			n.send()
			return
		}
	}
}

// send announces the events noted, a batch per statement. A statement
// that fails loses its notices: their events are in the log.
func (n *notices) send() {
	for {
		n.mu.Lock()
		k := min(len(n.tenants), noticeBatch)
		tenants, seqs := n.tenants[:k:k], n.seqs[:k:k]
		n.tenants, n.seqs = n.tenants[k:], n.seqs[k:]
		if len(n.tenants) == 0 {
			n.tenants, n.seqs = nil, nil
		}
		n.mu.Unlock()
		if k == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), noticeTimeout)
		n.pool.Exec(ctx, notifySQL, tenants, seqs)
		cancel()
	}
}

// close sends what is noted and stops.
func (n *notices) close() {
	n.once.Do(func() { close(n.quit) })
	<-n.done
}
