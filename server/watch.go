package server

import (
	"context"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// watcherOf returns the store's meta.Watcher, looking through the
// server's own wrapper (observedMeta), if it has one.
func watcherOf(m meta.Store) (meta.Watcher, bool) {
	if o, ok := m.(observedMeta); ok {
		m = o.Store
	}
	w, ok := m.(meta.Watcher)
	return w, ok
}

// watch wakes this process's long polls when any process sharing the
// metadata store changes a file's status, so that a wait on one replica
// returns as soon as another records the upload instead of at its next
// periodic look. It goes on until ctx ends, watching again a second after
// a failure; the periodic look covers the gap.
func (s *Server) watch(ctx context.Context, w meta.Watcher) {
	for ctx.Err() == nil {
		err := w.Watch(ctx, s.hub.publish)
		if ctx.Err() != nil {
			return
		}
		s.cfg.Logger.Warn("watching the metadata store for status changes failed; retrying in 1s", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
