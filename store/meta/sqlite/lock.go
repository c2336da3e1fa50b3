package sqlite

import (
	"context"
	"fmt"
	"sync"

	"github.com/perseus-go/perseus/store/meta"
)

var _ meta.Locker = (*Store)(nil)

// Lock implements meta.Locker in this process only: the embedded store
// serves one process, so its locks are a map of the names held, kept by
// this Store value (another Store opened on the same file locks apart).
// Replicas must share PostgreSQL (store/meta/postgres), whose locks hold
// across processes.
func (s *Store) Lock(ctx context.Context, name string, release func()) (func() error, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: lock %q: %w", name, err)
		}
		h, held := s.locks.take(name, release)
		if !held {
			var once sync.Once
			return func() error {
				once.Do(func() { s.locks.unlock(name, h) })
				return nil
			}, nil
		}
		h.ask()
		select {
		case <-h.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("sqlite: lock %q: %w", name, ctx.Err())
		}
	}
}

// locks are the names locked in this process. The zero value is empty.
type locks struct {
	mu   sync.Mutex
	held map[string]*holding
}

// holding is one lock held.
type holding struct {
	done chan struct{} // closed by unlock
	ask  func()        // calls the holder's release, once, on a goroutine of its own
}

// take takes the lock on name for a holder whose release is release and
// returns it with held false, or returns the current holding with held
// true.
func (l *locks) take(name string, release func()) (h *holding, held bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.held[name]; h != nil {
		return h, true
	}
	if l.held == nil {
		l.held = make(map[string]*holding)
	}
	h = &holding{done: make(chan struct{}), ask: sync.OnceFunc(func() {
		if release != nil {
			go release()
		}
	})}
	l.held[name] = h
	return h, false
}

// unlock lets h, the holding of name, go.
func (l *locks) unlock(name string, h *holding) {
	l.mu.Lock()
	if l.held[name] == h {
		delete(l.held, name)
	}
	l.mu.Unlock()
	close(h.done)
}
