package ingest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// TestAwaitReturnsTheVerdictTheMomentItIsRecorded: a waiter wakes when the
// record settles, not at its next look, and not before.
func TestAwaitReturnsTheVerdictTheMomentItIsRecorded(t *testing.T) {
	core := newCore(t)
	ctx := context.Background()
	rec, _, err := core.Create(ctx, "t", "f", hashOf([]byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	var settledAt time.Time
	go func() {
		time.Sleep(50 * time.Millisecond)
		settledAt = time.Now()
		core.transition(ctx, rec, meta.StatusUploaded, 1, "")
	}()
	f, err := core.Await(ctx, "t", rec.ID, 10*time.Second)
	woke := time.Now()
	if err != nil || f.Status != meta.StatusUploaded {
		t.Fatalf("Await = %+v, %v; want uploaded", f, err)
	}
	if d := woke.Sub(settledAt); d > recheck/2 {
		t.Errorf("Await returned %v after the record settled", d)
	}
}

// TestAwaitEndsAtItsWaitOrItsCaller: a record that stays pending is
// returned as it is once the wait is over (at once for none), and a caller
// that leaves gets its context's error.
func TestAwaitEndsAtItsWaitOrItsCaller(t *testing.T) {
	core := newCore(t)
	ctx := context.Background()
	rec, _, _ := core.Create(ctx, "t", "f", hashOf([]byte("y")))
	for _, wait := range []time.Duration{0, 30 * time.Millisecond} {
		start := time.Now()
		f, err := core.Await(ctx, "t", rec.ID, wait)
		if err != nil || f.Status != meta.StatusPending || time.Since(start) > wait+time.Second {
			t.Fatalf("Await(wait %v) = %+v, %v after %v; want pending, at its wait", wait, f, err, time.Since(start))
		}
	}
	gone, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := core.Await(gone, "t", rec.ID, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Await of a caller that left: %v, want its context's error", err)
	}
	if _, err := core.Await(ctx, "t", "no-such-id", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Await of an unknown id: %v, want ErrNotFound", err)
	}
}
