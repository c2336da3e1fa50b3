package ingest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// recheck is how often a waiter looks at its record again although nothing
// woke it: changes in this process wake it at once (hub), and so do other
// processes' through a store that can watch (meta.Watcher); this covers a
// wake-up that was missed.
const recheck = time.Second

// Await returns tenant's file id once its status is final, or as it is
// after wait (at once when wait is 0, or once the core is drained). ctx is
// the caller's: when it ends, so does Await, with its error. It is the one
// place anything waits for a verdict.
func (c *Core) Await(ctx context.Context, tenant, id string, wait time.Duration) (meta.File, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	expired := wait <= 0 || c.isDrained()
	for {
		ch := c.hub.subscribe(id)
		f, err := c.meta.Get(ctx, tenant, id)
		if err != nil || f.Status.Final() || expired {
			c.hub.unsubscribe(id, ch)
			return f, notFound(err)
		}
		t := time.NewTimer(recheck)
		select {
		case <-ch:
		case <-t.C:
		case <-deadline.C:
			expired = true
		case <-c.drained:
			expired = true
		case <-ctx.Done():
		}
		t.Stop()
		c.hub.unsubscribe(id, ch)
	}
}

// Drain ends every wait, for a process that is shutting down: each Await in
// progress returns the record as it is now, and later ones return at once,
// as with no wait; streams of events end (Drained). Everything else goes
// on as before.
func (c *Core) Drain() { c.drain.Do(func() { close(c.drained) }) }

func (c *Core) isDrained() bool {
	select {
	case <-c.drained:
		return true
	default:
		return false
	}
}

// notFound turns the metadata store's ErrNotFound into the core's.
func notFound(err error) error {
	if errors.Is(err, meta.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// hub wakes waiters when a file's status changes in this process.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

func (h *hub) subscribe(id string) chan struct{} {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[string]map[chan struct{}]struct{}{}
	}
	if h.subs[id] == nil {
		h.subs[id] = map[chan struct{}]struct{}{}
	}
	h.subs[id][ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *hub) unsubscribe(id string, ch chan struct{}) {
	h.mu.Lock()
	delete(h.subs[id], ch)
	if len(h.subs[id]) == 0 {
		delete(h.subs, id)
	}
	h.mu.Unlock()
}

func (h *hub) publish(id string) {
	h.mu.Lock()
	for ch := range h.subs[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
}

// watcherOf returns the store's meta.Watcher, looking through wrappers
// that say what they wrap (Unwrap), if it has one.
func watcherOf(m meta.Store) (meta.Watcher, bool) {
	for {
		if w, ok := m.(meta.Watcher); ok {
			return w, true
		}
		u, ok := m.(interface{ Unwrap() meta.Store })
		if !ok {
			return nil, false
		}
		m = u.Unwrap()
	}
}

// watch wakes this process's waiters when any process sharing the metadata
// store changes a file's status, so that a wait on one replica returns as
// soon as another records the upload. It goes on until ctx ends, watching
// again a second after a failure; the periodic recheck covers the gap.
func (c *Core) watch(ctx context.Context, w meta.Watcher) {
	for ctx.Err() == nil {
		err := w.Watch(ctx, c.hub.publish)
		if ctx.Err() != nil {
			return
		}
		c.cfg.Logger.Warn("watching the metadata store for status changes failed; retrying in 1s", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
