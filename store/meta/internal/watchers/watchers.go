// Package watchers keeps the functions of the watches under way on a
// store (meta.Watcher's Watch, meta.EventLog's WatchEvents) and hands each
// piece of news to all of them.
package watchers

import (
	"sync"
	"sync/atomic"
)

// Set is the functions of the watches under way. The zero value is empty
// and ready to use.
type Set[T any] struct {
	mu   sync.Mutex // held while fns are called, so that none is called after its watch returned
	next int
	fns  map[int]func(T)
	n    atomic.Int64 // len(fns), for Empty, which must not wait for the calls under way
}

// Add adds fn and returns the function that removes it. Once remove has
// returned, fn is not called again.
func (s *Set[T]) Add(fn func(T)) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = make(map[int]func(T))
	}
	id := s.next
	s.next++
	s.fns[id] = fn
	s.n.Add(1)
	return func() {
		s.mu.Lock()
		if _, ok := s.fns[id]; ok {
			delete(s.fns, id)
			s.n.Add(-1)
		}
		s.mu.Unlock()
	}
}

// Publish hands v to every function of the set, one after the other.
func (s *Set[T]) Publish(v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range s.fns {
		fn(v)
	}
}

// Empty reports whether no watch is under way, without waiting for the
// calls of Publish under way.
func (s *Set[T]) Empty() bool { return s.n.Load() == 0 }
