package metatest

import (
	"context"
	"testing"

	"github.com/perseus-go/perseus/store/meta"
)

// testUsage: Usage counts the tenant's pending and uploaded records and
// sums the sizes of the uploaded ones; failed records, deleted ones and
// other tenants' count for nothing, and a record counts once whatever it
// goes through (claimed again, failed and claimed again). Sizes beyond
// 32 bits add up exactly.
func testUsage(t *testing.T, s meta.Store) {
	ctx := context.Background()
	usage := func(tenant string, files, bytes int64) {
		t.Helper()
		got, err := s.Usage(ctx, tenant)
		if want := (meta.Usage{Files: files, Bytes: bytes}); err != nil || got != want {
			t.Fatalf("Usage(%s) = %+v, %v; want %+v", tenant, got, err, want)
		}
	}
	move := func(id string, u meta.Update) {
		t.Helper()
		if _, err := s.Transition(ctx, id, u); err != nil {
			t.Fatalf("Transition %s → %s: %v", u.From, u.To, err)
		}
	}
	usage("t1", 0, 0)

	a := mustClaim(t, s, newFile("t1", "a"))
	usage("t1", 1, 0) // pending: a file, no bytes yet
	mustClaim(t, s, newFile("t1", "a"))
	usage("t1", 1, 0) // claimed again: the same record
	move(a.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 5 << 30})
	usage("t1", 1, 5<<30)

	b := mustClaim(t, s, newFile("t1", "b"))
	move(b.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 7})
	c := mustClaim(t, s, newFile("t1", "c"))
	usage("t1", 3, 5<<30+7)
	move(c.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "hash mismatch"})
	usage("t1", 2, 5<<30+7) // failed: holds nothing
	mustClaim(t, s, newFile("t1", "c"))
	usage("t1", 3, 5<<30+7) // pending again

	usage("t2", 0, 0)
	d := mustClaim(t, s, newFile("t2", "a"))
	move(d.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 100})
	usage("t2", 1, 100)
	usage("t1", 3, 5<<30+7)

	if _, err := s.Delete(ctx, "t1", a.ID); err != nil {
		t.Fatal(err)
	}
	usage("t1", 2, 7)
}
