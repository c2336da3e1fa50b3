package postgres

import (
	"context"
	"fmt"

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
	defer s.watchers.Add(fn)()
	return s.listening(ctx, "watch")
}

// listening waits, for a watch that op names, until ctx ends or the
// connection the listener uses now ends, and returns why, as Watch and
// WatchEvents do.
func (s *Store) listening(ctx context.Context, op string) error {
	sess := s.listen.current()
	select {
	case <-ctx.Done():
		return fmt.Errorf("postgres: %s: %w", op, ctx.Err())
	case <-sess.lost:
		return fmt.Errorf("postgres: %s: %w", op, sess.err)
	}
}
