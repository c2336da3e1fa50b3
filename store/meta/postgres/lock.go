package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perseus-go/perseus/store/meta"
)

var _ meta.Locker = (*Store)(nil)

// releaseChannel is the NOTIFY channel on which a Lock that waits asks the
// holder, in whatever process, to let go; the payload is the lock's key
// (lockKey) in decimal.
const releaseChannel = "perseus_lock_release"

const (
	// retryMin and retryJitter space a waiter's tries: 20 to 50 ms.
	retryMin    = 20 * time.Millisecond
	retryJitter = 30 * time.Millisecond
	// askAgain is how often a waiter asks again: a notice sent while the
	// holder's listener was reconnecting, or before the holder had noted
	// its lock, is lost. The holder's release is called once all the same.
	askAgain = time.Second
	// unlockTimeout bounds pg_advisory_unlock; past it the session is closed.
	unlockTimeout = 5 * time.Second
)

// Lock implements meta.Locker with session-level advisory locks, so the
// lock holds for every process on the database. A holder keeps a
// connection of its own, from a pool kept for locks apart from the
// metadata pool (so that uploads holding locks never leave the metadata
// queries they make without connections), until unlock. If the holding
// process dies, its connections drop and PostgreSQL frees their locks at
// once; a host that vanishes without closing them holds its locks until
// the server's TCP keepalive gives up on the connection (about a minute:
// lockPoolConfig).
//
// A waiter holds no connection while it waits: it takes one, tries
// (pg_try_advisory_lock) and gives it back, every 20 to 50 ms. On its
// first failed try, and every second after, it asks the holder to let go:
// by NOTIFY on releaseChannel, which each store hears on its listening
// connection (listener, shared with Watch), or directly when the holder is
// in this process. Locks are namespaced by the store's schema, so stores
// in different schemas of one database lock apart.
func (s *Store) Lock(ctx context.Context, name string, release func()) (func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: lock %q: %w", name, err)
	}
	// Listening first: once the lock is taken, a notice for it is heard.
	if err := s.listen.ready(ctx); err != nil {
		return nil, fmt.Errorf("postgres: lock %q: listen: %w", name, withCtx(ctx, err))
	}
	h, err := s.locks.take(ctx, name, release)
	if err != nil {
		return nil, fmt.Errorf("postgres: lock %q: %w", name, withCtx(ctx, err))
	}
	var once sync.Once
	var uerr error
	return func() error {
		once.Do(func() { uerr = s.locks.unlock(h) })
		return uerr
	}, nil
}

// withCtx makes err, which ctx's end may have caused, wrap ctx's error.
func withCtx(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// locks are the advisory locks this process holds.
type locks struct {
	meta *pgxpool.Pool // for notices, and the schema

	mu     sync.Mutex
	pool   *pgxpool.Pool // the holders' connections; made at the first Lock
	ns     string        // the store's schema
	held   map[int64]*holding
	closed bool
}

// holding is one lock held by this process.
type holding struct {
	key int64
	ask func() // calls the holder's release, once

	mu   sync.Mutex
	conn *pgxpool.Conn // the session that holds the lock; nil once let go
}

// let takes h's connection away from it, or nil if it was let go already.
func (h *holding) let() *pgxpool.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.conn
	h.conn = nil
	return c
}

// lockKey is the advisory lock key of name in namespace ns: 64 bits of its
// SHA-256, which every replica, of any version, computes alike. Two names
// of one key (a chance of 2⁻⁶⁴ a pair) would share a lock.
func lockKey(ns, name string) int64 {
	sum := sha256.Sum256([]byte("perseus-lock\x00" + ns + "\x00" + name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// lockPoolConfig is the configuration of the pool of the holders'
// connections: the metadata pool's, with as many connections at most (a
// Lock waits for one while all hold locks), and idle ones closed after a
// minute (each is a server process). Each session asks the server for TCP
// keepalives that see a vanished client within about a minute (30 s idle,
// then 3 probes 10 s apart), unless the URL sets them: the server's
// default is the OS's, two hours, during which the locks of a host gone
// without closing its connections would stay held.
func lockPoolConfig(metaCfg *pgxpool.Config) *pgxpool.Config {
	cfg := metaCfg.Copy()
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = time.Minute
	var set []string
	for _, kv := range [][2]string{{"tcp_keepalives_idle", "30"}, {"tcp_keepalives_interval", "10"}, {"tcp_keepalives_count", "3"}} {
		if _, given := cfg.ConnConfig.RuntimeParams[kv[0]]; !given {
			set = append(set, fmt.Sprintf("set_config('%s', '%s', false)", kv[0], kv[1]))
		}
	}
	if len(set) > 0 {
		keepalive := "SELECT " + strings.Join(set, ", ")
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, keepalive)
			return err
		}
	}
	return cfg
}

// prepare returns the pool for holders and the namespace, making them at
// the first call.
func (l *locks) prepare(ctx context.Context) (*pgxpool.Pool, string, error) {
	l.mu.Lock()
	pool, ns, closed := l.pool, l.ns, l.closed
	l.mu.Unlock()
	switch {
	case closed:
		return nil, "", errClosed
	case pool != nil:
		return pool, ns, nil
	}
	var schema *string
	if err := l.meta.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, "", fmt.Errorf("schema: %w", err)
	}
	if schema != nil {
		ns = *schema
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), lockPoolConfig(l.meta.Config()))
	if err != nil {
		return nil, "", fmt.Errorf("lock pool: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		pool.Close()
		return nil, "", errClosed
	case l.pool != nil: // another Lock made them meanwhile
		pool.Close()
		return l.pool, l.ns, nil
	}
	l.pool, l.ns, l.held = pool, ns, make(map[int64]*holding)
	return pool, ns, nil
}

// take takes the lock on name, trying until ctx ends.
func (l *locks) take(ctx context.Context, name string, release func()) (*holding, error) {
	pool, ns, err := l.prepare(ctx)
	if err != nil {
		return nil, err
	}
	key := lockKey(ns, name)
	var asked time.Time
	for {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
			// The server may have granted the lock though its answer was
			// lost: ending the session frees it.
			destroy(conn)
			return nil, err
		}
		if ok {
			h := &holding{key: key, ask: sync.OnceFunc(func() {
				if release != nil {
					go release()
				}
			}), conn: conn}
			if err := l.note(h); err != nil {
				destroy(h.let())
				return nil, err
			}
			return h, nil
		}
		conn.Release()
		if time.Since(asked) >= askAgain {
			l.ask(ctx, key)
			asked = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(retryMin + rand.N(retryJitter)):
		}
	}
}

// note records h as held, unless the store has closed.
func (l *locks) note(h *holding) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errClosed
	}
	l.held[h.key] = h
	return nil
}

// ask asks the holder of key to let go: directly when it is in this
// process, otherwise by a notice to every process. A notice that cannot be
// sent is let be: the waiter's next try tells whether the database is
// there, and it asks again.
func (l *locks) ask(ctx context.Context, key int64) {
	l.mu.Lock()
	h := l.held[key]
	l.mu.Unlock()
	if h != nil {
		h.ask()
		return
	}
	l.meta.Exec(ctx, `SELECT pg_notify($1, $2)`, releaseChannel, strconv.FormatInt(key, 10))
}

// requested handles a notice on releaseChannel: the holder of the key in
// the payload, if it is in this process, is asked to let go.
func (l *locks) requested(payload string) {
	key, err := strconv.ParseInt(payload, 10, 64)
	if err != nil {
		return
	}
	l.mu.Lock()
	h := l.held[key]
	l.mu.Unlock()
	if h != nil {
		h.ask()
	}
}

// unlock lets h go. It forgets h first, so that the next holder of the key
// in this process is never taken for h. If the server does not answer
// that the lock is released, the session is closed, which releases it.
func (l *locks) unlock(h *holding) error {
	l.mu.Lock()
	if l.held[h.key] == h {
		delete(l.held, h.key)
	}
	l.mu.Unlock()
	conn := h.let()
	if conn == nil {
		return nil // the store closed, and its session with it
	}
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	var ok bool
	err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, h.key).Scan(&ok)
	if err == nil && !ok {
		err = errors.New("its session did not hold it")
	}
	if err != nil {
		destroy(conn)
		return fmt.Errorf("postgres: unlock: %w (the session is closed, which releases the lock)", err)
	}
	conn.Release()
	return nil
}

// close lets every lock go, closing their sessions, asks their holders to
// let go (they no longer hold anything), and closes the pool.
func (l *locks) close() {
	l.mu.Lock()
	l.closed = true
	held, pool := l.held, l.pool
	l.held = nil
	l.mu.Unlock()
	for _, h := range held {
		if c := h.let(); c != nil {
			destroy(c)
		}
		h.ask()
	}
	if pool != nil {
		pool.Close()
	}
}

// destroy closes c's session instead of giving it back to the pool: the
// server then releases every lock the session held.
func destroy(c *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	c.Hijack().Close(ctx)
}
