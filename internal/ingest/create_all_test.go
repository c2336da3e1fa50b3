package ingest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/perseus-go/perseus/store/meta"
)

// TestCreateAllAnswersEachWantAsCreateWould: a batch of new, pending,
// failed, uploaded and repeated contents gets, per want and in order, the
// record and created flag a Create of it would get.
func TestCreateAllAnswersEachWantAsCreateWould(t *testing.T) {
	ctx := context.Background()
	c := newCore(t)
	pending, _, _ := c.Create(ctx, "t1", "p", hashOf([]byte("pending")))
	failed, _, _ := c.Create(ctx, "t1", "f", hashOf([]byte("failed")))
	if _, err := c.Receive(ctx, "t1", failed.ID, failed.SourceHash, bytes.NewReader([]byte("other")), 5); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("wrong bytes: %v", err)
	}
	up, _, _ := c.Create(ctx, "t1", "u", hashOf([]byte("uploaded")))
	if _, err := c.Receive(ctx, "t1", up.ID, up.SourceHash, bytes.NewReader([]byte("uploaded")), 8); err != nil {
		t.Fatal(err)
	}

	wants := []Want{
		{"new.txt", hashOf([]byte("new"))}, {"p2", pending.SourceHash}, {"f2", failed.SourceHash},
		{"u2", up.SourceHash}, {"again.txt", hashOf([]byte("new"))},
	}
	out, err := c.CreateAll(ctx, "t1", wants)
	if err != nil || len(out) != len(wants) {
		t.Fatalf("CreateAll = %d outcomes, %v", len(out), err)
	}
	for i, w := range []struct {
		id      string
		created bool
		status  meta.Status
	}{
		{"", true, meta.StatusPending}, {pending.ID, false, meta.StatusPending}, {failed.ID, false, meta.StatusPending},
		{up.ID, false, meta.StatusUploaded}, {out[0].Rec.ID, false, meta.StatusPending},
	} {
		o := out[i]
		if o.Err != nil || (w.id != "" && o.Rec.ID != w.id) || o.Created != w.created || o.Rec.Status != w.status || o.Rec.SourceHash != wants[i].Hash {
			t.Errorf("outcome %d = %+v; want id %q, created %v, %s", i, o, w.id, w.created, w.status)
		}
	}
	if out[0].Rec.Name != "new.txt" || out[0].Rec.Kind != meta.KindHashed || out[0].Rec.Tenant != "t1" {
		t.Errorf("the new record: %+v", out[0].Rec)
	}
	if got, err := c.Get(ctx, "t1", out[0].Rec.ID); err != nil || got.Status != meta.StatusPending {
		t.Errorf("the new record, got: %+v, %v", got, err)
	}
}

// TestCreateAllHoldsTheFilesQuotaWithinTheBatch: with room for two more
// files, a batch adds exactly two; content the tenant keeps (and repeats
// of content the batch adds) adds nothing and is answered, and the wants
// beyond are ErrQuotaExceeded, with a message, and recorded nowhere.
func TestCreateAllHoldsTheFilesQuotaWithinTheBatch(t *testing.T) {
	ctx := context.Background()
	c, _ := quotaCore(t, 3, 0)
	kept, _, _ := c.Create(ctx, "t1", "k", hashOf([]byte("kept")))
	c.Create(ctx, "t2", "o", hashOf([]byte("another tenant's"))) // counts for t2 only
	wants := []Want{
		{"a", hashOf([]byte("a"))}, {"k", kept.SourceHash}, {"a again", hashOf([]byte("a"))},
		{"b", hashOf([]byte("b"))}, {"c", hashOf([]byte("c"))}, {"k again", kept.SourceHash},
	}
	out, err := c.CreateAll(ctx, "t1", wants)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{nil, nil, nil, nil, ErrQuotaExceeded, nil} {
		if o := out[i]; !errors.Is(o.Err, want) || (want != nil && (Message(o.Err) == "" || o.Rec.ID != "")) || (want == nil && o.Rec.ID == "") {
			t.Errorf("want %d (%s): %+v; want error %v", i, wants[i].Name, o, want)
		}
	}
	if u, err := c.Usage(ctx, "t1"); err != nil || u.Files != 3 {
		t.Errorf("usage after the batch = %+v, %v; want the 3 files of the quota", u, err)
	}
	if got, _ := c.Find(ctx, "t1", nil, []string{hashOf([]byte("c"))}); len(got) != 0 {
		t.Errorf("the want beyond the quota was recorded: %+v", got)
	}
	out, err = c.CreateAll(ctx, "t1", []Want{{"d", hashOf([]byte("d"))}, {"a", hashOf([]byte("a"))}})
	if err != nil || !errors.Is(out[0].Err, ErrQuotaExceeded) || out[1].Err != nil || out[1].Created {
		t.Errorf("a batch at the quota: %+v, %v; want the new file refused, the pending one answered", out, err)
	}
}

// TestCreateAllOfNothingCreatesNothing: an empty batch is no error.
func TestCreateAllOfNothingCreatesNothing(t *testing.T) {
	out, err := newCore(t, func(c *Config) { c.QuotaFiles = 1 }).CreateAll(context.Background(), "t1", nil)
	if err != nil || len(out) != 0 {
		t.Errorf("CreateAll(nil) = %v, %v", out, err)
	}
}
