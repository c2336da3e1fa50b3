package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// TestDrainAnswersEveryWaitWithTheRecordAsItIs: waits in progress return the
// pending record at once when the core is drained, and later waits do not
// wait at all, however long they ask for.
func TestDrainAnswersEveryWaitWithTheRecordAsItIs(t *testing.T) {
	core := newCore(t)
	ctx := context.Background()
	rec, _, err := core.Create(ctx, "t", "f", hashOf([]byte("drain")))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		f   meta.File
		err error
		at  time.Time
	}
	const n = 4
	results := make(chan result, n)
	for range n {
		go func() {
			f, err := core.Await(ctx, "t", rec.ID, time.Minute)
			results <- result{f, err, time.Now()}
		}()
	}
	time.Sleep(100 * time.Millisecond) // let them all wait
	drainedAt := time.Now()
	core.Drain()
	core.Drain() // twice is harmless
	for range n {
		r := <-results
		if r.err != nil || r.f.Status != meta.StatusPending || r.f.ID != rec.ID {
			t.Fatalf("a wait ended by Drain = %+v, %v; want the pending record", r.f, r.err)
		}
		if d := r.at.Sub(drainedAt); d > recheck/2 {
			t.Errorf("a wait returned %v after Drain", d)
		}
	}
	start := time.Now()
	if f, err := core.Await(ctx, "t", rec.ID, time.Minute); err != nil || f.Status != meta.StatusPending || time.Since(start) > recheck/2 {
		t.Fatalf("Await after Drain = %+v, %v after %v; want the pending record at once", f, err, time.Since(start))
	}
}

// TestRunReturnsOnceItsWorkHasStopped: Run does not return while its
// background work may still use the stores, so that a caller can close them.
func TestRunReturnsOnceItsWorkHasStopped(t *testing.T) {
	core := newCore(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- core.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of its context ending")
	}
}
