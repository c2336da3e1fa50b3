package metatest

import (
	"context"
	"testing"

	"github.com/perseus-go/perseus/store/meta"
)

// testHasSize: HasSize counts the tenant's uploaded records of exactly that
// size and nothing else: not pending or failed records, whatever size they
// carry, not another tenant's, not deleted ones. Size 0 is asked like any
// other.
func testHasSize(t *testing.T, s meta.Store) {
	ctx := context.Background()
	has := func(tenant string, size int64, want bool) {
		t.Helper()
		if got, err := s.HasSize(ctx, tenant, size); err != nil || got != want {
			t.Fatalf("HasSize(%s, %d) = %v, %v; want %v", tenant, size, got, err, want)
		}
	}
	move := func(id string, u meta.Update) {
		t.Helper()
		if _, err := s.Transition(ctx, id, u); err != nil {
			t.Fatalf("Transition %s → %s: %v", u.From, u.To, err)
		}
	}
	has("t1", 1234, false)
	has("t1", 0, false)

	f := mustClaim(t, s, newFile("t1", "a"))
	has("t1", 0, false) // pending, of size 0
	move(f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusPending, Size: 1234})
	has("t1", 1234, false) // pending, whatever the size says
	move(f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1234})
	has("t1", 1234, true)
	has("t1", 1235, false)
	has("t1", 0, false)
	has("t2", 1234, false)

	g := mustClaim(t, s, newFile("t2", "b"))
	move(g.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Size: 1234, Reason: "hash mismatch"})
	has("t2", 1234, false)

	if _, err := s.Delete(ctx, "t1", f.ID); err != nil {
		t.Fatal(err)
	}
	has("t1", 1234, false)

	empty := mustClaim(t, s, newFile("t1", ""))
	move(empty.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 0})
	has("t1", 0, true)
	has("t2", 0, false)
}
