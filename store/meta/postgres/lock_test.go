package postgres_test

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perseus-go/perseus/store/meta/metatest"
)

// testLockFreedWhenHolderDies ends the session that holds a lock, as the
// death of the holding process does: the lock is free for another replica
// at once, and the holder's unlock afterwards is harmless.
func testLockFreedWhenHolderDies(t *testing.T, base string, admin *pgxpool.Pool) {
	u := freshSchema(t, base, admin)
	a, b := open(t, u), open(t, u)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := "lock-" + metatest.NewID()
	unlockA, err := a.Lock(ctx, name, nil)
	if err != nil {
		t.Fatalf("A: Lock: %v", err)
	}
	q, _ := url.Parse(u)
	var killed int
	err = admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l
JOIN pg_stat_activity s ON s.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND s.application_name = $1`, q.Query().Get("application_name")).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminate the holding session: %d killed, %v; want 1", killed, err)
	}
	lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
	defer lcancel()
	unlockB, err := b.Lock(lctx, name, nil)
	if err != nil {
		t.Fatalf("B: Lock after the holder's session ended: %v", err)
	}
	if err := unlockA(); err == nil {
		t.Log("A's unlock of a lock its session lost returned nil")
	}
	if err := unlockB(); err != nil {
		t.Fatalf("B: unlock: %v", err)
	}
	unlockA, err = a.Lock(lctx, name, nil)
	if err != nil {
		t.Fatalf("A: Lock again, on a new session: %v", err)
	}
	if err := unlockA(); err != nil {
		t.Fatalf("A: unlock: %v", err)
	}
}

// testCloseFreesLocks: closing a store that holds a lock does not wait for
// its holder: the lock is released, the holder asked to let go, and its
// unlock afterwards returns nil.
func testCloseFreesLocks(t *testing.T, base string, admin *pgxpool.Pool) {
	u := freshSchema(t, base, admin)
	a, b := open(t, u), open(t, u)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := "lock-" + metatest.NewID()
	var asked atomic.Int32
	unlockA, err := a.Lock(ctx, name, func() { asked.Add(1) })
	if err != nil {
		t.Fatalf("A: Lock: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a holder of a lock")
	}
	lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
	defer lcancel()
	unlockB, err := b.Lock(lctx, name, nil)
	if err != nil {
		t.Fatalf("B: Lock after A's store closed: %v", err)
	}
	if err := unlockB(); err != nil {
		t.Fatalf("B: unlock: %v", err)
	}
	if err := unlockA(); err != nil {
		t.Fatalf("A: unlock after its store closed: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); asked.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("the holder's release was called %d times at Close, want 1", n)
	}
	if _, err := a.Lock(ctx, name, nil); err == nil {
		t.Fatal("Lock on a closed store succeeded")
	}
}

// testLockAskSurvivesListenerLoss ends a holder's listening connection:
// the listener connects again by itself, and a waiter on another replica,
// asking again every second, still reaches the holder.
func testLockAskSurvivesListenerLoss(t *testing.T, base string, admin *pgxpool.Pool) {
	u := freshSchema(t, base, admin)
	a, b := open(t, u), open(t, u)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := "lock-" + metatest.NewID()
	assigned := make(chan struct{})
	var unlockA func() error
	unlockA, err := a.Lock(ctx, name, func() {
		<-assigned
		unlockA()
	})
	if err != nil {
		t.Fatalf("A: Lock: %v", err)
	}
	close(assigned)
	q, _ := url.Parse(u)
	var killed int
	err = admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = $1 AND query LIKE 'LISTEN %'`, q.Query().Get("application_name")).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminate A's listening session: %d killed, %v; want 1", killed, err)
	}
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	defer lcancel()
	start := time.Now()
	unlockB, err := b.Lock(lctx, name, nil)
	if err != nil {
		t.Fatalf("B: Lock while A's listener reconnects: %v", err)
	}
	t.Logf("B had the lock %v after A's listener was cut", time.Since(start))
	if err := unlockB(); err != nil {
		t.Fatalf("B: unlock: %v", err)
	}
}
