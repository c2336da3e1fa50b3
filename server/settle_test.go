package server

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/perseus-go/perseus/store/meta"
)

// TestUploadFinishingAfterTheSweeperGaveUpIsNotAcknowledged: the sweeper marks
// an abandoned record failed just before deleting it. An upload that finishes
// in that moment must not turn it uploaded (it would be acknowledged, then
// deleted with its content), and a PUT to a failed record is refused with a
// message saying to create the file again.
func TestUploadFinishingAfterTheSweeperGaveUpIsNotAcknowledged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	content := []byte("late bytes")
	c := e.create(keyA, "late.bin", content)
	rec, err := e.meta.Get(ctx, tenantA, c.Rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The sweeper's first step.
	if _, err := e.meta.Transition(ctx, rec.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: reasonAbandoned}); err != nil {
		t.Fatal(err)
	}
	// An upload that read the record while it was pending now settles.
	if _, err := e.srv.settle(ctx, rec, meta.StatusUploaded, int64(len(content)), ""); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("settle after the sweeper marked it failed: err %v, want ErrConflict", err)
	}
	if got, _ := e.meta.Get(ctx, tenantA, rec.ID); got.Status != meta.StatusFailed {
		t.Fatalf("record is %s, want still failed", got.Status)
	}
	// And a PUT now is refused, pointing the client at create.
	resp := e.put(c.UploadURL, content)
	if resp.status != http.StatusConflict || resp.Code != "file_failed" {
		t.Fatalf("PUT to a failed record: %d %s %q", resp.status, resp.Code, resp.Message)
	}
	if len(e.storedFiles()) != 0 {
		t.Fatal("bytes were kept for a failed record")
	}
	// Creating again heals it.
	again := e.create(keyA, "late.bin", content)
	if again.Rec == nil || again.Rec.ID != rec.ID || again.Rec.Status != "pending" {
		t.Fatalf("create after failure = %+v", again)
	}
	if up := e.put(again.UploadURL, content); up.status != http.StatusOK || up.Status != "uploaded" {
		t.Fatalf("PUT after create = %d %+v", up.status, up)
	}
}
