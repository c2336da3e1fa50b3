package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/perseus-go/perseus/store/meta"
)

var _ meta.Watcher = (*Store)(nil)

// channel is the NOTIFY channel on which Transition announces the id of the
// file it changed, in the same statement, so the notice goes out when (and
// only if) the change commits.
const channel = "perseus_file_status"

// Watch implements meta.Watcher on the store's listening connection (see
// listener), which the locks share. It returns when ctx ends or when that
// connection fails (or cannot be made); the listener connects again by
// itself, and a Watch called after a failure waits for that connection.
func (s *Store) Watch(ctx context.Context, fn func(id string)) error {
	defer s.watchers.add(fn)()
	sess := s.listen.current()
	select {
	case <-ctx.Done():
		return fmt.Errorf("postgres: watch: %w", ctx.Err())
	case <-sess.lost:
		return fmt.Errorf("postgres: watch: %w", sess.err)
	}
}

// watchers are the functions of the Watch calls under way.
type watchers struct {
	mu   sync.Mutex // held while fns are called, so none is called after its Watch returned
	next int
	fns  map[int]func(string)
}

// add adds fn and returns the function that removes it.
func (w *watchers) add(fn func(string)) (remove func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = make(map[int]func(string))
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		delete(w.fns, id)
		w.mu.Unlock()
	}
}

// publish hands the id of a changed file to every Watch under way.
func (w *watchers) publish(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, fn := range w.fns {
		fn(id)
	}
}
