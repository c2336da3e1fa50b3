package ingest

import (
	"context"
	"errors"
	"testing"

	"github.com/perseus-go/perseus/store/meta"
)

// TestTransitionRecordsVerifiedBytesOfAFailedRecord: a record that failed
// meanwhile (another upload's bytes were wrong) still settles uploaded
// with verified bytes; only a record that is gone refuses them.
func TestTransitionRecordsVerifiedBytesOfAFailedRecord(t *testing.T) {
	core := newCore(t)
	ctx := context.Background()
	content := []byte("right bytes")
	c, _, err := core.Create(ctx, "t", "f", hashOf(content))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := core.meta.Transition(ctx, c.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "wrong bytes elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	if f, err := core.transition(ctx, rec, meta.StatusUploaded, int64(len(content)), ""); err != nil || f.Status != meta.StatusUploaded {
		t.Fatalf("settle of a failed record = %+v, %v; want it uploaded", f, err)
	}
	if _, err := core.meta.Delete(ctx, "t", rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := core.transition(ctx, rec, meta.StatusUploaded, int64(len(content)), ""); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("settle of a deleted record: err %v, want ErrNotFound", err)
	}
}
