package metatest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// RunLocker runs the conformance tests of meta.Locker on two stores that
// share one database, as two replicas do: what one locks, the other waits
// for, and it is the holder's release, in the holder's store, that is
// called. A store serving one process passes itself as both. open is
// called once per subtest; stores that are no Locker are skipped.
func RunLocker(t *testing.T, open func(t *testing.T) (a, b meta.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b meta.Locker)
	}{
		{"WaiterAsksTheHolderToLetGo", testLockHandsOver},
		{"WaitEndsWithItsContext", testLockWaitEnds},
		{"DistinctNamesDoNotBlock", testLockDistinct},
		{"UnlockTwiceIsHarmless", testUnlockTwice},
		{"NoLostUpdates", testLockStress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sa, sb := open(t)
			a, ok := sa.(meta.Locker)
			if !ok {
				t.Skip("store does not implement meta.Locker")
			}
			b, ok := sb.(meta.Locker)
			if !ok {
				t.Fatal("the second store is no meta.Locker though the first is")
			}
			tc.fn(t, a, b)
		})
	}
}

// testLockerInOneStore runs RunLocker's tests with s as both stores.
func testLockerInOneStore(t *testing.T, s meta.Store) {
	RunLocker(t, func(*testing.T) (meta.Store, meta.Store) { return s, s })
}

// lockName returns a name no other test locks: PostgreSQL's advisory locks
// are the whole database's, which other tests share.
func lockName() string { return "lock-" + NewID() }

// testCtx is a context for one locker test, ended when t ends.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually waits up to 5s for cond.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// testLockHandsOver: A holds; B's Lock waits, A's release is called (once),
// A unlocks from it, and only then B has the lock.
func testLockHandsOver(t *testing.T, a, b meta.Locker) {
	ctx := testCtx(t)
	name := lockName()
	var asked atomic.Int32
	var letGo atomic.Bool
	unlockErr := make(chan error, 1)
	assigned := make(chan struct{})
	var unlockA func() error
	unlockA, err := a.Lock(ctx, name, func() {
		asked.Add(1)
		<-assigned
		letGo.Store(true)
		unlockErr <- unlockA()
	})
	if err != nil {
		t.Fatalf("A: Lock: %v", err)
	}
	close(assigned)

	var waiterAsked atomic.Int32
	unlockB, err := b.Lock(ctx, name, func() { waiterAsked.Add(1) })
	if err != nil {
		t.Fatalf("B: Lock: %v", err)
	}
	if !letGo.Load() {
		t.Fatal("B got the lock while A held it")
	}
	if err := <-unlockErr; err != nil {
		t.Fatalf("A: unlock in its release: %v", err)
	}
	time.Sleep(100 * time.Millisecond) // time for a stray second call
	if n := asked.Load(); n != 1 {
		t.Fatalf("A's release was called %d times, want 1", n)
	}
	if err := unlockB(); err != nil {
		t.Fatalf("B: unlock: %v", err)
	}
	if n := waiterAsked.Load(); n != 0 {
		t.Fatalf("B's release was called %d times though nobody waited for B", n)
	}
}

// testLockWaitEnds: a Lock whose context ends while another holds the lock
// fails with the context's error and holds nothing; the holder was asked
// once however many waited; a context already ended fails at once.
func testLockWaitEnds(t *testing.T, a, b meta.Locker) {
	ctx := testCtx(t)
	name := lockName()
	var asked atomic.Int32
	unlockA, err := a.Lock(ctx, name, func() { asked.Add(1) })
	if err != nil {
		t.Fatalf("A: Lock: %v", err)
	}
	var waiterAsked atomic.Int32
	for i := range 2 {
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		start := time.Now()
		unlock, err := b.Lock(wctx, name, func() { waiterAsked.Add(1) })
		cancel()
		if err == nil {
			unlock()
			t.Fatalf("wait %d: B got the lock while A held it", i)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("wait %d: B's Lock err = %v, want one wrapping context.DeadlineExceeded", i, err)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Fatalf("wait %d: B's Lock gave up after %v, before its context ended", i, d)
		}
		if !eventually(func() bool { return asked.Load() > 0 }) {
			t.Fatalf("wait %d: A's release was not called", i)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("A's release was called %d times for one holding, want 1", n)
	}
	if err := unlockA(); err != nil {
		t.Fatalf("A: unlock: %v", err)
	}
	// The waits that failed left nothing behind: the lock is free.
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	unlockB, err := b.Lock(lctx, name, nil)
	if err != nil {
		t.Fatalf("B: Lock after A let go: %v", err)
	}
	if err := unlockB(); err != nil {
		t.Fatalf("B: unlock: %v", err)
	}
	if n := waiterAsked.Load(); n != 0 {
		t.Fatalf("the release of a Lock that failed was called %d times", n)
	}

	done, cancelDone := context.WithCancel(ctx)
	cancelDone()
	if unlock, err := b.Lock(done, lockName(), nil); !errors.Is(err, context.Canceled) {
		if err == nil {
			unlock()
		}
		t.Fatalf("Lock with an ended context: err = %v, want one wrapping context.Canceled", err)
	}
}

// testLockDistinct: locks on two names are held at once, and neither
// holder is asked to let go.
func testLockDistinct(t *testing.T, a, b meta.Locker) {
	ctx := testCtx(t)
	var asked atomic.Int32
	unlockA, err := a.Lock(ctx, lockName(), func() { asked.Add(1) })
	if err != nil {
		t.Fatalf("A: Lock: %v", err)
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	unlockB, err := b.Lock(lctx, lockName(), func() { asked.Add(1) })
	if err != nil {
		t.Fatalf("B: Lock of another name while A holds one: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := asked.Load(); n != 0 {
		t.Fatalf("a holder was asked to let go %d times though nobody waited for its name", n)
	}
	if err := unlockB(); err != nil {
		t.Fatalf("B: unlock: %v", err)
	}
	if err := unlockA(); err != nil {
		t.Fatalf("A: unlock: %v", err)
	}
}

// testUnlockTwice: calls of unlock after the first return nil and do
// nothing: in particular they do not free the lock of its next holder.
func testUnlockTwice(t *testing.T, a, b meta.Locker) {
	ctx := testCtx(t)
	name := lockName()
	unlockA, err := a.Lock(ctx, name, nil)
	if err != nil {
		t.Fatalf("A: Lock: %v", err)
	}
	for i := range 2 {
		if err := unlockA(); err != nil {
			t.Fatalf("A: unlock #%d: %v", i+1, err)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	unlockB, err := b.Lock(lctx, name, nil)
	if err != nil {
		t.Fatalf("B: Lock after A's unlocks: %v", err)
	}
	if err := unlockA(); err != nil {
		t.Fatalf("A: unlock #3, while B holds: %v", err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer wcancel()
	if unlock, err := a.Lock(wctx, name, nil); err == nil {
		unlock()
		t.Fatal("A's third unlock freed B's lock")
	}
	if err := unlockB(); err != nil {
		t.Fatalf("B: unlock: %v", err)
	}
	if err := unlockB(); err != nil {
		t.Fatalf("B: second unlock: %v", err)
	}
}

// testLockStress: workers on both stores add to a counter under the lock
// by reading it, pausing and writing it back; any overlap loses an update.
// The reads and writes are atomic one by one, not together: the race
// detector cannot see an order kept by another process (PostgreSQL), and
// would take every handover between replicas for a race.
func testLockStress(t *testing.T, a, b meta.Locker) {
	ctx := testCtx(t)
	name := lockName()
	const workers, rounds = 6, 8
	var counter atomic.Int64 // read, then written, under the lock
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		l := []meta.Locker{a, b}[i%2]
		wg.Go(func() {
			for range rounds {
				unlock, err := l.Lock(ctx, name, nil)
				if err != nil {
					errs <- err
					return
				}
				v := counter.Load()
				time.Sleep(time.Millisecond)
				counter.Store(v + 1)
				if err := unlock(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("worker: %v", err)
	}
	if n := counter.Load(); n != workers*rounds {
		t.Fatalf("counter = %d after %d locked increments: updates were lost", n, workers*rounds)
	}
}
