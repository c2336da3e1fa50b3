package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// listener is the store's one LISTEN connection, outside the pool, shared
// by Watch, WatchEvents and the locks (Lock): it listens on every channel
// of handlers and hands each notice to the channel's handler, in order,
// from one goroutine. It starts at its first use and runs until close,
// connecting again a second after the connection fails.
type listener struct {
	cfg      *pgx.ConnConfig
	handlers map[string]func(payload string) // channel → handler; fixed at newListener

	// schema is the connection's current_schema(), where its search_path
	// puts the store's tables: a channel is the whole database's, so a
	// handler whose notices name their schema keeps those of its own.
	// Learnt at each connection before any notice is handed out; only
	// the listener's goroutine, and so the handlers, use it.
	schema string

	mu      sync.Mutex
	cur     *session      // the connection being made or in use; the next one after a failure
	stop    func()        // ends the loop; nil until it starts
	done    chan struct{} // closed when the loop has ended
	stopped bool
}

// session is one connection of a listener, from its making to its end.
type session struct {
	ready chan struct{} // closed once every LISTEN is in place
	lost  chan struct{} // closed when the connection has ended (or could not be made); err says why
	err   error
}

func newSession() *session {
	return &session{ready: make(chan struct{}), lost: make(chan struct{})}
}

// errClosed is why a session of a closed store ends.
var errClosed = errors.New("the store is closed")

// retryDelay is how long the listener waits after a failed connection
// before it connects again.
const retryDelay = time.Second

func newListener(cfg *pgx.ConnConfig, handlers map[string]func(string)) *listener {
	return &listener{cfg: cfg, handlers: handlers, cur: newSession()}
}

// current returns the connection in use or being made, starting the
// listener if it has not started. After close it returns a lost session.
func (l *listener) current() *session {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stop == nil && !l.stopped {
		ctx, cancel := context.WithCancel(context.Background())
		l.stop, l.done = cancel, make(chan struct{})
		go l.run(ctx)
	}
	return l.cur
}

// ready waits until the listener has every LISTEN in place (it starts the
// listener if need be), through as many failed connections as it takes,
// until ctx ends.
func (l *listener) ready(ctx context.Context) error {
	for {
		s := l.current()
		select {
		case <-s.ready:
			return nil
		case <-s.lost:
			if errors.Is(s.err, errClosed) {
				return s.err
			}
			// current now returns the next connection; wait for that.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close ends the listener and waits for its loop to return.
func (l *listener) close() {
	l.mu.Lock()
	l.stopped = true
	stop, done := l.stop, l.done
	l.mu.Unlock()
	if stop == nil {
		l.end(l.current(), errClosed)
		return
	}
	stop()
	<-done
}

func (l *listener) run(ctx context.Context) {
	defer func() {
		l.end(l.current(), errClosed) // and every later one, as the listener has stopped
		close(l.done)
	}()
	for {
		s := l.current()
		err := l.serve(ctx, s)
		if ctx.Err() != nil {
			return
		}
		l.end(s, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryDelay):
		}
	}
}

// end records why s ended and puts the next session in its place: one
// already ended when the listener has stopped.
func (l *listener) end(s *session, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-s.lost:
		return // already ended
	default:
	}
	s.err = err
	close(s.lost)
	next := newSession()
	if l.stopped {
		next.err = errClosed
		close(next.lost)
	}
	l.cur = next
}

// serve makes s's connection, listens on every channel and hands out
// notices until the connection fails or ctx ends.
func (l *listener) serve(ctx context.Context, s *session) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg.Copy())
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	var schema *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("listen: schema: %w", err)
	}
	l.schema = ""
	if schema != nil {
		l.schema = *schema
	}
	for ch := range l.handlers {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	close(s.ready)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		if h := l.handlers[n.Channel]; h != nil {
			h(n.Payload)
		}
	}
}
