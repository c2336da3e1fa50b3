package ingest

import (
	"context"
	"testing"
	"time"
)

func TestKeyLockExcludesOneKeyOnly(t *testing.T) {
	var l keyLock
	unlock, ok := l.TryLock("a")
	if !ok || !l.Held("a") {
		t.Fatal("a free key was not taken")
	}
	if _, ok := l.TryLock("a"); ok {
		t.Fatal("a held key was taken twice")
	}
	unlockB, ok := l.TryLock("b")
	if !ok {
		t.Fatal("another key waited for the first")
	}
	unlockB()
	unlock()
	if l.Held("a") || l.Held("b") {
		t.Fatal("keys still held after unlock")
	}
}

// TestKeyLockWakesAWaiterAtOnce: a waiter takes the key the moment its
// holder lets go, and gives up when its context ends.
func TestKeyLockWakesAWaiterAtOnce(t *testing.T) {
	var l keyLock
	unlock, _ := l.TryLock("k")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Lock(ctx, "k"); err == nil {
		t.Fatal("Lock of a held key returned before its context ended")
	}
	got := make(chan time.Time)
	go func() {
		u, err := l.Lock(context.Background(), "k")
		if err == nil {
			got <- time.Now()
			u()
		}
		close(got)
	}()
	time.Sleep(10 * time.Millisecond)
	released := time.Now()
	unlock()
	at, ok := <-got
	if !ok {
		t.Fatal("the waiter failed")
	}
	if d := at.Sub(released); d > 50*time.Millisecond {
		t.Errorf("the waiter took the key %v after it was let go", d)
	}
}
