package metatest

import (
	"context"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// testKind: a record's kind is the one it was created with, in every File
// the store returns; an empty kind is stored as hashed; a later Claim of
// the same hash, of another kind, changes nothing of it.
func testKind(t *testing.T, s meta.Store) {
	ctx := context.Background()
	is := func(what string, f meta.File, want meta.Kind) {
		t.Helper()
		if f.Kind != want {
			t.Errorf("%s: Kind = %q, want %q", what, f.Kind, want)
		}
	}
	streamed := newFile("t1", "streamed")
	streamed.Kind = meta.KindStreamed
	rec, created, err := s.Claim(ctx, streamed)
	if err != nil || !created {
		t.Fatalf("Claim(streamed) = created %v, err %v; want created", created, err)
	}
	is("Claim(streamed)", rec, meta.KindStreamed)
	hashed := mustClaim(t, s, newFile("t1", "hashed")) // Kind left empty
	is("Claim(empty kind)", hashed, meta.KindHashed)

	for _, tc := range []struct {
		f    meta.File
		want meta.Kind
	}{{rec, meta.KindStreamed}, {hashed, meta.KindHashed}} {
		got, err := s.Get(ctx, "t1", tc.f.ID)
		if err != nil {
			t.Fatal(err)
		}
		is("Get", got, tc.want)
		found, err := s.Find(ctx, "t1", []string{tc.f.ID}, nil)
		if err != nil || len(found) != 1 {
			t.Fatalf("Find by id = %+v, %v", found, err)
		}
		is("Find by id", found[0], tc.want)
		found, err = s.Find(ctx, "t1", nil, []string{tc.f.SourceHash})
		if err != nil || len(found) != 1 {
			t.Fatalf("Find by hash = %+v, %v", found, err)
		}
		is("Find by hash", found[0], tc.want)
	}
	list, err := s.List(ctx, "t1", meta.ListQuery{Limit: 10})
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v; want 2 records", list, err)
	}
	for _, f := range list {
		is("List "+f.Name, f, map[string]meta.Kind{rec.ID: meta.KindStreamed, hashed.ID: meta.KindHashed}[f.ID])
	}
	stale, err := s.Stale(ctx, meta.StatusPending, time.Now().Add(time.Minute), 10)
	if err != nil || len(stale) != 2 {
		t.Fatalf("Stale = %+v, %v; want 2 records", stale, err)
	}
	for _, f := range stale {
		is("Stale "+f.Name, f, map[string]meta.Kind{rec.ID: meta.KindStreamed, hashed.ID: meta.KindHashed}[f.ID])
	}

	// A claim of the other kind finds the record and leaves its kind, whether
	// the record is pending, failed (reset to pending) or uploaded.
	other := newFile("t1", "streamed") // Kind left empty: hashed
	again, created, err := s.Claim(ctx, other)
	if err != nil || created || again.ID != rec.ID {
		t.Fatalf("Claim(hashed) of a streamed record's hash = %+v, created %v, err %v; want the record", again, created, err)
	}
	is("Claim(hashed) of a pending streamed record", again, meta.KindStreamed)
	other = newFile("t1", "hashed")
	other.Kind = meta.KindStreamed
	again = mustClaim(t, s, other)
	is("Claim(streamed) of a pending hashed record", again, meta.KindHashed)

	moved, err := s.Transition(ctx, rec.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "x"})
	if err != nil {
		t.Fatal(err)
	}
	is("Transition", moved, meta.KindStreamed)
	again = mustClaim(t, s, newFile("t1", "streamed"))
	is("Claim(hashed) of a failed streamed record", again, meta.KindStreamed)
	if _, err := s.Transition(ctx, rec.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1}); err != nil {
		t.Fatal(err)
	}
	again = mustClaim(t, s, newFile("t1", "streamed"))
	is("Claim(hashed) of an uploaded streamed record", again, meta.KindStreamed)

	del, err := s.Delete(ctx, "t1", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	is("Delete", del, meta.KindStreamed)
	del, err = s.DeleteStale(ctx, "t1", hashed.ID, meta.StatusPending, afterPause())
	if err != nil {
		t.Fatal(err)
	}
	is("DeleteStale", del, meta.KindHashed)

	// The hash is free again: the next record of it takes the kind it is claimed with.
	rec, created, err = s.Claim(ctx, newFile("t1", "streamed"))
	if err != nil || !created {
		t.Fatalf("Claim after Delete = created %v, err %v; want created", created, err)
	}
	is("Claim(hashed) after the streamed record was deleted", rec, meta.KindHashed)
}
