package ingest

import (
	"context"
	"sync"
)

// keyLock is a mutual exclusion per key, within this process: holders of
// different keys never wait for each other, and a waiter wakes the moment
// the holder lets go (no polling).
type keyLock struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when the key is let go
}

// TryLock takes key if no one holds it.
func (l *keyLock) TryLock(key string) (unlock func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, busy := l.held[key]; busy {
		return nil, false
	}
	if l.held == nil {
		l.held = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	l.held[key] = ch
	return func() {
		l.mu.Lock()
		delete(l.held, key)
		l.mu.Unlock()
		close(ch)
	}, true
}

// Lock takes key, waiting while another holds it, until ctx ends.
func (l *keyLock) Lock(ctx context.Context, key string) (unlock func(), err error) {
	for {
		if unlock, ok := l.TryLock(key); ok {
			return unlock, nil
		}
		l.mu.Lock()
		ch := l.held[key]
		l.mu.Unlock()
		if ch == nil {
			continue // let go meanwhile
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Held reports whether someone holds key now.
func (l *keyLock) Held(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, busy := l.held[key]
	return busy
}
