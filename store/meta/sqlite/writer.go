package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// writer applies every write of the store on one connection, and commits
// the writes that arrive while a commit is in flight together, in one
// transaction (group commit).
//
// SQLite admits one writer at a time anyway. In WAL mode with
// synchronous=FULL each commit fsyncs the log, so N writes committed
// together cost one fsync instead of N, and no writer sleeps in SQLite's
// busy handler (which backs off in steps of up to 100 ms) waiting for
// another. Durability is unchanged: a caller returns only after the COMMIT
// that holds its write, and so its fsync, has returned. Each write runs
// inside a savepoint, so one that fails leaves the others of its batch
// untouched.
//
// The events the writes of a batch record (event) are handed to
// committed once the batch has committed, those of the writes that
// failed left out.
type writer struct {
	conn      *sql.Conn
	stmts     map[string]*sql.Stmt // prepared on conn; used by the writer goroutine only
	reqs      chan *writeReq       // unbuffered: a request is either taken or refused
	quit      chan struct{}
	done      chan struct{}
	once      sync.Once
	notes     []eventNote       // the events of the batch so far; writer goroutine only
	committed func([]eventNote) // called with a batch's events after its commit; must not keep the slice
}

type writeReq struct {
	ctx context.Context
	fn  func(*writer) error
	res chan error
}

// maxBatch caps the writes in one transaction, so that one commit, and the
// wait of the first caller in it, stays short.
const maxBatch = 128

var errClosed = errors.New("sqlite: store closed")

// newWriter starts the writer of db; committed, if not nil, is called
// with the events of each batch that commits some (see writer).
func newWriter(ctx context.Context, db *sql.DB, committed func([]eventNote)) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{conn: conn, stmts: map[string]*sql.Stmt{}, reqs: make(chan *writeReq),
		quit: make(chan struct{}), done: make(chan struct{}), committed: committed}
	go w.run()
	return w, nil
}

// do runs fn in the next batch and returns once that batch is committed (or
// fn failed). If ctx ends first do returns its error, and the write may
// still be applied, as with any database when a caller gives up after
// sending its COMMIT; but not before fn has run or been skipped, since fn
// writes into its caller's variables (a race seen under -race: a caller
// read the file Transition's fn was still scanning).
func (w *writer) do(ctx context.Context, fn func(*writer) error) error {
	r := &writeReq{ctx: ctx, fn: fn, res: make(chan error, 1)}
	select {
	case w.reqs <- r:
	case <-w.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.res:
		return err
	case <-ctx.Done():
		<-r.res // the batch it is in is short (maxBatch), and skips fn if it has not begun
		return ctx.Err()
	}
}

// queryRow runs a query on the writer's connection, inside the batch's
// transaction. Statements are prepared once and kept.
func (w *writer) queryRow(query string, args ...any) *sql.Row {
	st, err := w.stmt(query)
	if err != nil {
		return w.conn.QueryRowContext(context.Background(), query, args...) // reports the same error
	}
	return st.QueryRowContext(context.Background(), args...)
}

func (w *writer) exec(query string, args ...any) (sql.Result, error) {
	st, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(context.Background(), args...)
}

func (w *writer) stmt(query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

func (w *writer) run() {
	defer close(w.done)
	batch := make([]*writeReq, 0, maxBatch)
	errs := make([]error, maxBatch)
	for {
		select {
		case r := <-w.reqs:
			batch = append(batch[:0], r)
		case <-w.quit:
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		w.commit(batch, errs[:len(batch)])
		if len(w.notes) > 0 && w.committed != nil {
			w.committed(w.notes)
		}
		w.notes = w.notes[:0]
		for i, r := range batch {
			r.res <- errs[i]
			batch[i], errs[i] = nil, nil
		}
	}
}

// commit applies batch in one transaction, setting errs[i] to the outcome
// of batch[i], and leaves in notes the events of the writes it committed.
func (w *writer) commit(batch []*writeReq, errs []error) {
	w.notes = w.notes[:0]
	fail := func(err error) {
		w.notes = w.notes[:0] // nothing was committed
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	// The writer's statements never see a caller's context: SQLite answers
	// an interrupt inside a transaction by rolling all of it back.
	if _, err := w.exec("BEGIN IMMEDIATE"); err != nil {
		fail(fmt.Errorf("sqlite: begin: %w", err))
		return
	}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := w.exec("SAVEPOINT w"); err != nil {
			w.rollback()
			fail(fmt.Errorf("sqlite: savepoint: %w", err))
			return
		}
		noted := len(w.notes)
		if errs[i] = r.fn(w); errs[i] != nil {
			w.notes = w.notes[:noted] // the write's events are rolled back with it
			if _, err := w.exec("ROLLBACK TO w"); err != nil {
				// The transaction itself is gone (SQLite rolls it all back on
				// some errors): nothing of this batch was applied.
				w.rollback()
				fail(fmt.Errorf("sqlite: batch rolled back: %w", errors.Join(errs[i], err)))
				return
			}
		}
		if _, err := w.exec("RELEASE w"); err != nil {
			w.rollback()
			fail(fmt.Errorf("sqlite: release savepoint: %w", err))
			return
		}
	}
	if _, err := w.exec("COMMIT"); err != nil {
		w.rollback()
		fail(fmt.Errorf("sqlite: commit: %w", err))
	}
}

func (w *writer) rollback() { w.exec("ROLLBACK") }

// close stops the writer once the batch in flight is committed.
func (w *writer) close() error {
	w.once.Do(func() { close(w.quit) })
	<-w.done
	for _, st := range w.stmts {
		st.Close()
	}
	return w.conn.Close()
}
