package metatest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// afterPause returns a time strictly between whatever the store wrote
// before the call and whatever it writes after, at the millisecond
// precision of the coarsest store.
func afterPause() time.Time {
	time.Sleep(20 * time.Millisecond)
	cut := time.Now()
	time.Sleep(20 * time.Millisecond)
	return cut
}

func testDeleteStale(t *testing.T, s meta.Store) {
	ctx := context.Background()
	f := mustClaim(t, s, newFile("t1", "a"))
	cut := afterPause()
	got, err := s.DeleteStale(ctx, "t1", f.ID, meta.StatusPending, cut)
	if err != nil || got.ID != f.ID || got.Tenant != "t1" || got.SourceHash != f.SourceHash || got.Status != meta.StatusPending {
		t.Fatalf("DeleteStale = %+v, %v; want the pending record", got, err)
	}
	if _, err := s.Get(ctx, "t1", f.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Get after DeleteStale err = %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteStale(ctx, "t1", f.ID, meta.StatusPending, cut); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second DeleteStale err = %v, want ErrNotFound", err)
	}
	// Any status may be asked for, not only pending.
	g := mustClaim(t, s, newFile("t1", "b"))
	if _, err := s.Transition(ctx, g.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.DeleteStale(ctx, "t1", g.ID, meta.StatusFailed, afterPause()); err != nil || got.ID != g.ID || got.Status != meta.StatusFailed {
		t.Fatalf("DeleteStale(failed) = %+v, %v; want the failed record", got, err)
	}
}

// testDeleteStaleStatusMoved: a record that left status s is not deleted,
// however old it is.
func testDeleteStaleStatusMoved(t *testing.T, s meta.Store) {
	ctx := context.Background()
	f := mustClaim(t, s, newFile("t1", "a"))
	if _, err := s.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteStale(ctx, "t1", f.ID, meta.StatusPending, time.Now().Add(time.Hour)); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("DeleteStale of an uploaded record as pending: err %v, want ErrConflict", err)
	}
	if got, err := s.Get(ctx, "t1", f.ID); err != nil || got.Status != meta.StatusUploaded || got.Size != 7 {
		t.Fatalf("after a refused DeleteStale, record = %+v, %v; want it uploaded as it was", got, err)
	}
}

// testDeleteStaleTouched: a record updated at or after the cutoff (a fresh
// Claim of a pending record, a pending → pending Transition, or simply one
// newer than the cutoff) is not deleted.
func testDeleteStaleTouched(t *testing.T, s meta.Store) {
	ctx := context.Background()
	reclaimed := mustClaim(t, s, newFile("t1", "a"))
	touched := mustClaim(t, s, newFile("t1", "b"))
	cut := afterPause()
	if rec := mustClaim(t, s, newFile("t1", "a")); rec.ID != reclaimed.ID {
		t.Fatalf("re-Claim made a new record %s, want %s", rec.ID, reclaimed.ID)
	}
	if _, err := s.Transition(ctx, touched.ID, meta.Update{From: meta.StatusPending, To: meta.StatusPending}); err != nil {
		t.Fatal(err)
	}
	fresh := mustClaim(t, s, newFile("t1", "c"))
	for what, id := range map[string]string{"re-claimed": reclaimed.ID, "touched": touched.ID, "newer": fresh.ID} {
		if _, err := s.DeleteStale(ctx, "t1", id, meta.StatusPending, cut); !errors.Is(err, meta.ErrConflict) {
			t.Errorf("DeleteStale of a record %s after the cutoff: err %v, want ErrConflict", what, err)
		}
		if got, err := s.Get(ctx, "t1", id); err != nil || got.Status != meta.StatusPending {
			t.Errorf("%s record after a refused DeleteStale = %+v, %v; want it pending", what, got, err)
		}
	}
}

func testDeleteStaleScoped(t *testing.T, s meta.Store) {
	ctx := context.Background()
	f := mustClaim(t, s, newFile("t1", "a"))
	future := time.Now().Add(time.Hour)
	if _, err := s.DeleteStale(ctx, "t1", NewID(), meta.StatusPending, future); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("DeleteStale(unknown) err = %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteStale(ctx, "t2", f.ID, meta.StatusPending, future); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("DeleteStale by another tenant err = %v, want ErrNotFound", err)
	}
	if got, err := s.Get(ctx, "t1", f.ID); err != nil || got.Status != meta.StatusPending {
		t.Fatalf("record after another tenant's DeleteStale = %+v, %v; want it pending", got, err)
	}
}

// testDeleteStaleRace sets DeleteStale (the sweeper) against
// Transition pending → uploaded (an upload finishing) on one record, many
// goroutines at once: exactly one call wins, so a record is never both
// deleted and reported uploaded, and the losers get the store's sentinels.
func testDeleteStaleRace(t *testing.T, s meta.Store) {
	const records, each = 10, 8
	ctx := context.Background()
	wins := map[string]int{}
	for range records {
		f := mustClaim(t, s, newFile("t1", NewID()))
		cut := time.Now().Add(time.Hour) // stale from the start: only the race decides
		type outcome struct {
			op  string
			err error
		}
		outcomes := make(chan outcome, 2*each)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range each {
			wg.Go(func() {
				<-start
				_, err := s.DeleteStale(ctx, "t1", f.ID, meta.StatusPending, cut)
				outcomes <- outcome{"deleted", err}
			})
			wg.Go(func() {
				<-start
				_, err := s.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1})
				outcomes <- outcome{"uploaded", err}
			})
		}
		close(start)
		wg.Wait()
		close(outcomes)
		var won []string
		for o := range outcomes {
			switch {
			case o.err == nil:
				won = append(won, o.op)
			case !errors.Is(o.err, meta.ErrConflict) && !errors.Is(o.err, meta.ErrNotFound):
				t.Fatalf("racing DeleteStale and Transition: %s lost with %v, want ErrConflict or ErrNotFound", o.op, o.err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("racing DeleteStale and Transition: winners %v; want exactly one", won)
		}
		got, err := s.Get(ctx, "t1", f.ID)
		if won[0] == "deleted" && !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("DeleteStale won but Get = %+v, %v", got, err)
		}
		if won[0] == "uploaded" && (err != nil || got.Status != meta.StatusUploaded) {
			t.Fatalf("Transition won but Get = %+v, %v", got, err)
		}
		wins[won[0]]++
	}
	t.Logf("of %d races: %v", records, wins)
}
