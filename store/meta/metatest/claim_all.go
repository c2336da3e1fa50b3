package metatest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// testClaimAll: each file of a ClaimAll gets what a Claim of it would have
// got, in the order given: a new record, a pending one touched, a failed
// one reset, an uploaded one unchanged, another tenant's content apart;
// two files of one hash yield one record, made by the first.
func testClaimAll(t *testing.T, s meta.Store) {
	ctx := context.Background()
	pending := mustClaim(t, s, newFile("t1", "pending"))
	failed := mustClaim(t, s, newFile("t1", "failed"))
	if _, err := s.Transition(ctx, failed.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "bad"}); err != nil {
		t.Fatal(err)
	}
	uploaded, err := s.Transition(ctx, mustClaim(t, s, newFile("t1", "uploaded")).ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // so that a touch shows in UpdatedAt

	files := []meta.File{
		newFile("t1", "new"), newFile("t1", "pending"), newFile("t1", "failed"),
		newFile("t1", "uploaded"), newFile("t1", "new"), newFile("t2", "pending"),
	}
	got, err := s.ClaimAll(ctx, files)
	if err != nil || len(got) != len(files) {
		t.Fatalf("ClaimAll = %d results, %v; want %d", len(got), err, len(files))
	}
	for _, c := range []struct {
		i       int
		id      string // "": the id given
		created bool
		status  meta.Status
	}{
		{0, "", true, meta.StatusPending},
		{1, pending.ID, false, meta.StatusPending},
		{2, failed.ID, false, meta.StatusPending},
		{3, uploaded.ID, false, meta.StatusUploaded},
		{4, files[0].ID, false, meta.StatusPending},
		{5, "", true, meta.StatusPending},
	} {
		want := c.id
		if want == "" {
			want = files[c.i].ID
		}
		r := got[c.i]
		if r.Rec.ID != want || r.Created != c.created || r.Rec.Status != c.status || r.Rec.SourceHash != files[c.i].SourceHash || r.Rec.Tenant != files[c.i].Tenant {
			t.Errorf("ClaimAll result %d = %+v, created %v; want id %s, created %v, %s", c.i, r.Rec, r.Created, want, c.created, c.status)
		}
	}
	if r := got[2].Rec; r.Reason != "" {
		t.Errorf("a failed record claimed again keeps its reason %q", r.Reason)
	}
	if r := got[1].Rec; !r.UpdatedAt.After(pending.UpdatedAt) {
		t.Errorf("a pending record claimed again was not touched: UpdatedAt %v, was %v", r.UpdatedAt, pending.UpdatedAt)
	}
	if r := got[3].Rec; !r.UpdatedAt.Equal(uploaded.UpdatedAt) || r.Size != 8 {
		t.Errorf("an uploaded record claimed again changed: %+v", r)
	}
	if r, err := s.Get(ctx, "t1", files[0].ID); err != nil || r.Status != meta.StatusPending {
		t.Errorf("the new record after ClaimAll: %+v, %v", r, err)
	}
	if u, err := s.Usage(ctx, "t1"); err != nil || u.Files != 4 {
		t.Errorf("Usage after ClaimAll = %+v, %v; want 4 files: one per content", u, err)
	}
	if none, err := s.ClaimAll(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("ClaimAll of nothing = %v, %v; want nothing", none, err)
	}
}

// testConcurrentClaimAlls: ClaimAlls of overlapping hashes, given in
// opposite orders, and Claims of the same hashes, all at once, neither
// fail (no deadlock) nor make more than one record per hash.
func testConcurrentClaimAlls(t *testing.T, s meta.Store) {
	const n, hashes = 8, 20
	contents := make([]string, hashes)
	for i := range contents {
		contents[i] = fmt.Sprint("overlap ", i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for g := range n {
		wg.Go(func() {
			order := slices.Clone(contents)
			if g%2 == 1 {
				slices.Reverse(order)
			}
			files := make([]meta.File, len(order))
			for i, c := range order {
				files[i] = newFile("t1", c)
			}
			if _, err := s.ClaimAll(context.Background(), files); err != nil {
				errs <- fmt.Errorf("ClaimAll: %w", err)
			}
		})
		wg.Go(func() {
			if _, _, err := s.Claim(context.Background(), newFile("t1", contents[g])); err != nil {
				errs <- fmt.Errorf("Claim: %w", err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, c := range contents {
		got, err := s.Find(context.Background(), "t1", nil, []string{Hash(c)})
		if err != nil || len(got) != 1 {
			t.Errorf("records of %q after concurrent claims: %d, %v; want one", c, len(got), err)
		}
	}
}
