// Package metatest is the conformance suite every meta.Store implementation must pass.
package metatest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// Run runs the suite. open must return an empty store; it is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) meta.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s meta.Store)
	}{
		{"ClaimCreatesPendingRecord", testClaimCreates},
		{"ClaimReturnsUploadedRecordUnchanged", testClaimUploaded},
		{"ClaimResetsFailedToPending", testClaimResetsFailed},
		{"ClaimIsPerTenant", testClaimPerTenant},
		{"ConcurrentClaimsMakeOneRecord", testConcurrentClaims},
		{"ClaimAllClaimsEachAsClaimDoes", testClaimAll},
		{"ConcurrentClaimAllsNeitherDeadlockNorDuplicate", testConcurrentClaimAlls},
		{"GetIsScopedToTenant", testGetScoped},
		{"FindMatchesIdsOrHashesOnce", testFind},
		{"HasSizeCountsOnlyUploadedRecords", testHasSize},
		{"UsageCountsPendingAndUploadedRecords", testUsage},
		{"TransitionIsCompareAndSet", testTransition},
		{"PendingToPendingTouchesUpdatedAt", testTouch},
		{"DeleteRemovesRecord", testDelete},
		{"DeleteStaleRemovesUntouchedRecord", testDeleteStale},
		{"DeleteStaleRefusesWhenStatusMoved", testDeleteStaleStatusMoved},
		{"DeleteStaleRefusesRecordTouchedAfterCutoff", testDeleteStaleTouched},
		{"DeleteStaleIsScopedToTenant", testDeleteStaleScoped},
		{"DeleteStaleRacingTransitionHasOneWinner", testDeleteStaleRace},
		{"StaleListsOldRecordsByStatus", testStale},
		{"ListIsNewestFirstWithTiesByID", testListNewestFirst},
		{"ListPagesHaveNoGapsOrDuplicates", testListPages},
		{"ListFiltersByStatusAndNamePrefix", testListFilters},
		{"ListIsPerTenant", testListPerTenant},
		{"KeysLifecycle", testKeys},
		{"OddIDsAreSimplyNotFound", testOddIDs},
		{"KindIsKeptAsClaimed", testKind},
		{"LockerWhenSupported", testLockerInOneStore},
		{"Ping", func(t *testing.T, s meta.Store) {
			if err := s.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.fn(t, s)
		})
	}
	t.Run("EventLogWhenSupported", func(t *testing.T) { RunEvents(t, oneStore(open)) })
	t.Run("WebhooksWhenSupported", func(t *testing.T) { RunWebhooks(t, oneStore(open)) })
}

// oneStore returns, for RunEvents and RunWebhooks, a new store of open as
// both stores.
func oneStore(open func(t *testing.T) meta.Store) func(t *testing.T) (meta.Store, meta.Store) {
	return func(t *testing.T) (meta.Store, meta.Store) {
		s := open(t)
		return s, s
	}
}

// NewID returns a random id, unique enough for tests.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Hash returns the hex SHA-256 of s.
func Hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func newFile(tenant, content string) meta.File {
	return meta.File{ID: NewID(), Tenant: tenant, Name: content + ".txt", SourceHash: Hash(content),
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
}

func mustClaim(t *testing.T, s meta.Store, f meta.File) meta.File {
	t.Helper()
	rec, _, err := s.Claim(context.Background(), f)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return rec
}

func testClaimCreates(t *testing.T, s meta.Store) {
	f := newFile("t1", "a")
	rec, created, err := s.Claim(context.Background(), f)
	if err != nil || !created {
		t.Fatalf("Claim = created %v, err %v; want created", created, err)
	}
	if rec.ID != f.ID || rec.Status != meta.StatusPending || rec.Name != f.Name || rec.SourceHash != f.SourceHash || rec.Tenant != "t1" {
		t.Fatalf("Claim returned %+v", rec)
	}
	if !rec.CreatedAt.Equal(f.CreatedAt) {
		t.Fatalf("CreatedAt = %v, want %v", rec.CreatedAt, f.CreatedAt)
	}
	got, err := s.Get(context.Background(), "t1", f.ID)
	if err != nil || got.ID != f.ID || got.Status != meta.StatusPending || !got.CreatedAt.Equal(f.CreatedAt) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if ok, err := s.Exists(context.Background(), f.ID); err != nil || !ok {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	if ok, err := s.Exists(context.Background(), NewID()); err != nil || ok {
		t.Fatalf("Exists(unknown) = %v, %v", ok, err)
	}
}

func testClaimUploaded(t *testing.T, s meta.Store) {
	ctx := context.Background()
	f := mustClaim(t, s, newFile("t1", "a"))
	if _, err := s.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1}); err != nil {
		t.Fatal(err)
	}
	again := newFile("t1", "a")
	rec, created, err := s.Claim(ctx, again)
	if err != nil || created {
		t.Fatalf("second Claim: created %v err %v", created, err)
	}
	if rec.ID != f.ID || rec.Status != meta.StatusUploaded || rec.Size != 1 {
		t.Fatalf("second Claim returned %+v, want the uploaded record", rec)
	}
}

func testClaimResetsFailed(t *testing.T, s meta.Store) {
	ctx := context.Background()
	f := mustClaim(t, s, newFile("t1", "a"))
	if _, err := s.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "bad"}); err != nil {
		t.Fatal(err)
	}
	rec, created, err := s.Claim(ctx, newFile("t1", "a"))
	if err != nil || created || rec.ID != f.ID || rec.Status != meta.StatusPending || rec.Reason != "" {
		t.Fatalf("Claim after failure = %+v, created %v, err %v", rec, created, err)
	}
	// A pending one is returned, touched: a fresh upload URL goes with it,
	// so the sweeper must not take it for abandoned.
	time.Sleep(2 * time.Millisecond)
	rec2, created, err := s.Claim(ctx, newFile("t1", "a"))
	if err != nil || created || rec2.ID != f.ID || rec2.Status != meta.StatusPending {
		t.Fatalf("Claim of pending = %+v, created %v, err %v", rec2, created, err)
	}
	if !rec2.UpdatedAt.After(rec.UpdatedAt) {
		t.Fatalf("Claim of pending left UpdatedAt at %v (was %v); want it touched", rec2.UpdatedAt, rec.UpdatedAt)
	}
}

func testClaimPerTenant(t *testing.T, s meta.Store) {
	ctx := context.Background()
	a := mustClaim(t, s, newFile("t1", "same"))
	if _, err := s.Transition(ctx, a.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded}); err != nil {
		t.Fatal(err)
	}
	b, created, err := s.Claim(ctx, newFile("t2", "same"))
	if err != nil || !created || b.ID == a.ID || b.Status != meta.StatusPending {
		t.Fatalf("other tenant's Claim = %+v, created %v, err %v; want a new pending record", b, created, err)
	}
	if _, err := s.Get(ctx, "t2", a.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Get of another tenant's id: err %v, want ErrNotFound", err)
	}
	got, err := s.Find(ctx, "t2", []string{a.ID}, []string{Hash("same")})
	if err != nil || len(got) != 1 || got[0].ID != b.ID {
		t.Fatalf("Find across tenants = %+v, %v; want only t2's own record", got, err)
	}
}

func testConcurrentClaims(t *testing.T, s meta.Store) {
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, _, err := s.Claim(context.Background(), newFile("t1", "race"))
			if err != nil {
				errs <- err
				return
			}
			ids[i] = rec.ID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Claim: %v", err)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent claims returned different records: %v", ids)
		}
	}
	got, err := s.Find(context.Background(), "t1", nil, []string{Hash("race")})
	if err != nil || len(got) != 1 {
		t.Fatalf("Find after concurrent claims = %d records, %v; want 1", len(got), err)
	}
}

func testGetScoped(t *testing.T, s meta.Store) {
	if _, err := s.Get(context.Background(), "t1", NewID()); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Get(unknown) err = %v, want ErrNotFound", err)
	}
}

func testFind(t *testing.T, s meta.Store) {
	ctx := context.Background()
	var recs []meta.File
	for i := range 3 {
		f := newFile("t1", fmt.Sprint("c", i))
		f.CreatedAt = f.CreatedAt.Add(time.Duration(i) * time.Millisecond)
		recs = append(recs, mustClaim(t, s, f))
	}
	got, err := s.Find(ctx, "t1", []string{recs[0].ID, recs[1].ID, NewID()}, []string{recs[1].SourceHash, recs[2].SourceHash, Hash("nope")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Find = %d records, want 3 (each once)", len(got))
	}
	for i, f := range got {
		if f.ID != recs[i].ID {
			t.Fatalf("Find[%d] = %s, want %s (oldest first)", i, f.ID, recs[i].ID)
		}
	}
	none, err := s.Find(ctx, "t1", nil, nil)
	if err != nil || len(none) != 0 {
		t.Fatalf("Find(nothing) = %v, %v", none, err)
	}
	only, err := s.Find(ctx, "t1", nil, []string{recs[2].SourceHash})
	if err != nil || len(only) != 1 || only[0].ID != recs[2].ID {
		t.Fatalf("Find by hash = %v, %v", only, err)
	}
}

func testTransition(t *testing.T, s meta.Store) {
	ctx := context.Background()
	f := mustClaim(t, s, newFile("t1", "a"))
	rec, err := s.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 42})
	if err != nil || rec.Status != meta.StatusUploaded || rec.Size != 42 {
		t.Fatalf("Transition = %+v, %v", rec, err)
	}
	if rec.UpdatedAt.IsZero() {
		t.Fatal("UpdatedAt not set")
	}
	if _, err := s.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed}); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("stale Transition err = %v, want ErrConflict", err)
	}
	if _, err := s.Transition(ctx, NewID(), meta.Update{From: meta.StatusPending, To: meta.StatusFailed}); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Transition(unknown) err = %v, want ErrNotFound", err)
	}
	got, _ := s.Get(ctx, "t1", f.ID)
	if got.Status != meta.StatusUploaded || got.Size != 42 {
		t.Fatalf("after lost race, record = %+v", got)
	}
	g := mustClaim(t, s, newFile("t1", "b"))
	rec, err = s.Transition(ctx, g.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "hash mismatch"})
	if err != nil || rec.Reason != "hash mismatch" {
		t.Fatalf("Transition to failed = %+v, %v", rec, err)
	}
}

// testTouch checks that a pending → pending transition (the server's sign
// of life for a long multipart upload) moves UpdatedAt, so that Stale no
// longer lists the record as abandoned.
func testTouch(t *testing.T, s meta.Store) {
	ctx := context.Background()
	f := mustClaim(t, s, newFile("t1", "a"))
	time.Sleep(20 * time.Millisecond)
	cut := time.Now()
	time.Sleep(20 * time.Millisecond)
	rec, err := s.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusPending})
	if err != nil || rec.Status != meta.StatusPending || !rec.UpdatedAt.After(cut) {
		t.Fatalf("pending → pending = %+v, %v; want UpdatedAt after %v", rec, err, cut)
	}
	stale, err := s.Stale(ctx, meta.StatusPending, cut, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range stale {
		if g.ID == f.ID {
			t.Fatalf("Stale(before %v) still lists the touched record", cut)
		}
	}
}

func testDelete(t *testing.T, s meta.Store) {
	ctx := context.Background()
	f := mustClaim(t, s, newFile("t1", "a"))
	if _, err := s.Delete(ctx, "t2", f.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Delete by another tenant err = %v, want ErrNotFound", err)
	}
	got, err := s.Delete(ctx, "t1", f.ID)
	if err != nil || got.ID != f.ID || got.SourceHash != f.SourceHash {
		t.Fatalf("Delete = %+v, %v", got, err)
	}
	if _, err := s.Get(ctx, "t1", f.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Get after Delete err = %v", err)
	}
	if _, err := s.Delete(ctx, "t1", f.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second Delete err = %v", err)
	}
	// The hash is free again: a new claim makes a new record.
	rec, created, err := s.Claim(ctx, newFile("t1", "a"))
	if err != nil || !created || rec.ID == f.ID {
		t.Fatalf("Claim after Delete = %+v, created %v, err %v", rec, created, err)
	}
}

func testStale(t *testing.T, s meta.Store) {
	ctx := context.Background()
	a := mustClaim(t, s, newFile("t1", "a"))
	b := mustClaim(t, s, newFile("t1", "b"))
	if _, err := s.Transition(ctx, b.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Stale(ctx, meta.StatusPending, time.Now().Add(time.Minute), 10)
	if err != nil || len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("Stale(pending, future) = %+v, %v; want only a", got, err)
	}
	got, err = s.Stale(ctx, meta.StatusPending, time.Now().Add(-time.Minute), 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("Stale(pending, past) = %+v, %v; want none", got, err)
	}
}

func testKeys(t *testing.T, s meta.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	k := meta.Key{ID: NewID(), Tenant: "acme", Hash: Hash("secret"), CreatedAt: now}
	if err := s.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKey(ctx, meta.Key{ID: NewID(), Tenant: "x", Hash: k.Hash, CreatedAt: now}); !errors.Is(err, meta.ErrExists) {
		t.Fatalf("PutKey(duplicate hash) err = %v, want ErrExists", err)
	}
	got, err := s.KeyByHash(ctx, k.Hash)
	if err != nil || got.ID != k.ID || got.Tenant != "acme" || got.RevokedAt != nil {
		t.Fatalf("KeyByHash = %+v, %v", got, err)
	}
	if _, err := s.KeyByHash(ctx, Hash("other")); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("KeyByHash(unknown) err = %v", err)
	}
	if err := s.RevokeKey(ctx, k.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KeyByHash(ctx, k.Hash); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("KeyByHash(revoked) err = %v, want ErrNotFound", err)
	}
	if err := s.RevokeKey(ctx, NewID(), now); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("RevokeKey(unknown) err = %v", err)
	}
	keys, err := s.Keys(ctx)
	if err != nil || len(keys) != 1 || keys[0].RevokedAt == nil {
		t.Fatalf("Keys = %+v, %v", keys, err)
	}
}

// testOddIDs: ids arrive from URL paths and JSON, so they may be anything.
// One no record can have is not found, never an error.
func testOddIDs(t *testing.T, s meta.Store) {
	ctx := context.Background()
	f := mustClaim(t, s, newFile("t1", "a"))
	for _, id := range []string{"\x00", "a\x00b", "\xff\xfe", "\u00e9t\u00e9", strings.Repeat("x", 4096)} {
		if _, err := s.Get(ctx, "t1", id); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("Get(%q) err = %v, want ErrNotFound", id, err)
		}
		if _, err := s.Delete(ctx, "t1", id); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("Delete(%q) err = %v, want ErrNotFound", id, err)
		}
		if _, err := s.DeleteStale(ctx, "t1", id, meta.StatusPending, time.Now().Add(time.Hour)); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("DeleteStale(%q) err = %v, want ErrNotFound", id, err)
		}
		if _, err := s.Transition(ctx, id, meta.Update{From: meta.StatusPending, To: meta.StatusFailed}); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("Transition(%q) err = %v, want ErrNotFound", id, err)
		}
		if ok, err := s.Exists(ctx, id); ok || err != nil {
			t.Errorf("Exists(%q) = %v, %v", id, ok, err)
		}
		if err := s.RevokeKey(ctx, id, time.Now()); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("RevokeKey(%q) err = %v, want ErrNotFound", id, err)
		}
		got, err := s.Find(ctx, "t1", []string{id, f.ID}, nil)
		if err != nil || len(got) != 1 || got[0].ID != f.ID {
			t.Errorf("Find([%q, known]) = %v, %v; want only the known file", id, got, err)
		}
	}
}
