package metatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// RunEvents runs the conformance tests of meta.EventLog on two stores that
// share one database, as two replicas do: the changes of either are in
// one log per tenant, in the order they committed, and a watch on either
// hears of them. A store serving one process passes itself as both. open
// is called once per subtest and must return empty stores; stores that
// are no EventLog are skipped.
func RunEvents(t *testing.T, open func(t *testing.T) (a, b meta.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b meta.Store)
	}{
		{"EachChangeMakesItsEvent", testEventPerChange},
		{"FailedChangesMakeNone", testNoEventWithoutChange},
		{"ClaimAllMakesOnePerRecordInOrder", testClaimAllEvents},
		{"SeqIsPerTenant", testEventsPerTenant},
		{"EventsFilterAndPage", testEventsQuery},
		{"ConcurrentChangesHaveGaplessSeqsInCommitOrder", testEventsConcurrent},
		{"WatchEventsHearsEachCommit", testWatchEvents},
		{"PruneEventsKeepsTheSeq", testPruneEvents},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			if _, ok := a.(meta.EventLog); !ok {
				t.Skip("store does not implement meta.EventLog")
			}
			if _, ok := b.(meta.EventLog); !ok {
				t.Fatal("the second store is no meta.EventLog though the first is")
			}
			tc.fn(t, a, b)
		})
	}
}

// logOf returns s as the EventLog RunEvents found it to be.
func logOf(s meta.Store) meta.EventLog { return s.(meta.EventLog) }

// tenantName returns a tenant no other test uses.
func tenantName(what string) string { return what + "-" + NewID()[:12] }

// allEvents reads every event of tenant, a page at a time.
func allEvents(t *testing.T, l meta.EventLog, tenant string) []meta.Event {
	t.Helper()
	var all []meta.Event
	for {
		page, err := l.Events(context.Background(), tenant, meta.EventQuery{After: lastSeq(all), Limit: meta.MaxEventLimit})
		if err != nil {
			t.Fatalf("Events(%s): %v", tenant, err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
	}
}

func lastSeq(events []meta.Event) int64 {
	if len(events) == 0 {
		return 0
	}
	return events[len(events)-1].Seq
}

// wantEvent is an event as a test expects it.
type wantEvent struct {
	typ meta.EventType
	rec meta.File // the record the event must carry
	at  *[2]time.Time
}

// sameFile reports how got differs from want, "" if it does not.
func sameFile(got, want meta.File) string {
	switch {
	case got.ID != want.ID, got.Tenant != want.Tenant, got.Name != want.Name, got.SourceHash != want.SourceHash,
		got.Kind != want.Kind, got.Status != want.Status, got.Size != want.Size, got.Reason != want.Reason,
		!got.CreatedAt.Equal(want.CreatedAt), !got.UpdatedAt.Equal(want.UpdatedAt):
		return fmt.Sprintf("record %+v, want %+v", got, want)
	}
	return ""
}

// checkEvents checks that tenant's log, read through l, is exactly want,
// with Seqs 1, 2, 3…, and that LastEvent says its length.
func checkEvents(t *testing.T, l meta.EventLog, tenant string, want []wantEvent) {
	t.Helper()
	got := allEvents(t, l, tenant)
	if len(got) != len(want) {
		for _, e := range got {
			t.Logf("event %d %s %s (%s)", e.Seq, e.Type, e.File.ID, e.File.Status)
		}
		t.Fatalf("%s has %d events, want %d", tenant, len(got), len(want))
	}
	for i, w := range want {
		e := got[i]
		if e.Seq != int64(i+1) || e.Tenant != tenant || e.Type != w.typ {
			t.Errorf("event %d = Seq %d, tenant %q, %s; want Seq %d, %q, %s", i, e.Seq, e.Tenant, e.Type, i+1, tenant, w.typ)
		}
		if d := sameFile(e.File, w.rec); d != "" {
			t.Errorf("event %d (%s): %s", e.Seq, e.Type, d)
		}
		if w.at == nil {
			if !e.At.Equal(w.rec.UpdatedAt) {
				t.Errorf("event %d (%s): At %v, want the record's UpdatedAt %v", e.Seq, e.Type, e.At, w.rec.UpdatedAt)
			}
		} else if from, to := w.at[0].Truncate(time.Millisecond), w.at[1]; e.At.Before(from) || e.At.After(to) {
			t.Errorf("event %d (%s): At %v, want it within [%v, %v]", e.Seq, e.Type, e.At, from, to)
		}
	}
	if n, err := l.LastEvent(context.Background(), tenant); err != nil || n != int64(len(want)) {
		t.Errorf("LastEvent(%s) = %d, %v; want %d", tenant, n, err, len(want))
	}
}

// during runs fn and returns the time span it ran in.
func during(fn func()) *[2]time.Time {
	from := time.Now()
	fn()
	return &[2]time.Time{from, time.Now()}
}

// testEventPerChange: each change of a record's status makes its event,
// with the record as the change left it, and nothing else does: a claim
// that finds its record (touching a pending one, resetting a failed one,
// or an uploaded one), a touch. Both stores read one log.
func testEventPerChange(t *testing.T, a, b meta.Store) {
	ctx := context.Background()
	tenant := tenantName("t")
	var want []wantEvent
	transition := func(s meta.Store, id string, u meta.Update) meta.File {
		t.Helper()
		f, err := s.Transition(ctx, id, u)
		if err != nil {
			t.Fatalf("Transition(%s → %s): %v", u.From, u.To, err)
		}
		return f
	}

	f := mustClaim(t, a, newFile(tenant, "f"))
	want = append(want, wantEvent{typ: meta.EventCreated, rec: f})
	mustClaim(t, b, newFile(tenant, "f"))                                              // found, touched: none
	transition(a, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusPending}) // a touch: none
	up := transition(b, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 5})
	want = append(want, wantEvent{typ: meta.EventUploaded, rec: up})
	mustClaim(t, a, newFile(tenant, "f")) // found uploaded: none

	g := mustClaim(t, b, newFile(tenant, "g"))
	want = append(want, wantEvent{typ: meta.EventCreated, rec: g})
	failed := transition(a, g.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "bad"})
	want = append(want, wantEvent{typ: meta.EventFailed, rec: failed})
	mustClaim(t, a, newFile(tenant, "g")) // a failed one reset to pending: none
	up = transition(b, g.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 7})
	want = append(want, wantEvent{typ: meta.EventUploaded, rec: up})
	var deleted meta.File
	span := during(func() {
		var err error
		if deleted, err = a.Delete(ctx, tenant, g.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	})
	want = append(want, wantEvent{typ: meta.EventDeleted, rec: deleted, at: span})
	if sameFile(deleted, up) != "" {
		t.Errorf("Delete returned %+v, want the record as it was, %+v", deleted, up)
	}

	h := newFile(tenant, "h")
	h.Kind = meta.KindStreamed
	hr := mustClaim(t, a, h)
	want = append(want, wantEvent{typ: meta.EventCreated, rec: hr})
	failed = transition(a, h.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "short"})
	want = append(want, wantEvent{typ: meta.EventFailed, rec: failed})
	up = transition(b, h.ID, meta.Update{From: meta.StatusFailed, To: meta.StatusUploaded, Size: 9})
	want = append(want, wantEvent{typ: meta.EventUploaded, rec: up})

	k := mustClaim(t, b, newFile(tenant, "k"))
	want = append(want, wantEvent{typ: meta.EventCreated, rec: k})
	cut := afterPause()
	span = during(func() {
		var err error
		if deleted, err = b.DeleteStale(ctx, tenant, k.ID, meta.StatusPending, cut); err != nil {
			t.Fatalf("DeleteStale: %v", err)
		}
	})
	want = append(want, wantEvent{typ: meta.EventDeleted, rec: deleted, at: span})

	checkEvents(t, logOf(a), tenant, want)
	checkEvents(t, logOf(b), tenant, want)
}

// testNoEventWithoutChange: a change that does not apply, or that fails,
// makes no event: the log and the counter stay as they were.
func testNoEventWithoutChange(t *testing.T, a, b meta.Store) {
	ctx := context.Background()
	tenant := tenantName("t")
	f := mustClaim(t, a, newFile(tenant, "f"))
	up, err := a.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []wantEvent{{typ: meta.EventCreated, rec: f}, {typ: meta.EventUploaded, rec: up}}

	for what, err := range map[string]error{
		"Transition from a status left": second(b.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed})),
		"Transition of no record":       second(a.Transition(ctx, NewID(), meta.Update{From: meta.StatusPending, To: meta.StatusUploaded})),
		"Delete of no record":           second(b.Delete(ctx, tenant, NewID())),
		"Delete by another tenant":      second(a.Delete(ctx, tenantName("other"), f.ID)),
		"DeleteStale of a moved record": second(b.DeleteStale(ctx, tenant, f.ID, meta.StatusPending, time.Now().Add(time.Hour))),
		"DeleteStale of a fresh record": second(a.DeleteStale(ctx, tenant, f.ID, meta.StatusUploaded, time.Now().Add(-time.Hour))),
		"DeleteStale of no record":      second(a.DeleteStale(ctx, tenant, NewID(), meta.StatusPending, time.Now())),
	} {
		if !errors.Is(err, meta.ErrConflict) && !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("%s: err %v, want ErrConflict or ErrNotFound", what, err)
		}
	}
	// A claim of an unknown kind fails (the store's check), and so does a
	// ClaimAll holding one: none of its claims, nor their events, remain.
	odd := newFile(tenant, "odd")
	odd.Kind = "other"
	if _, _, err := a.Claim(ctx, odd); err == nil {
		t.Error("Claim of kind \"other\" succeeded")
	}
	good := newFile(tenant, "good")
	if _, err := b.ClaimAll(ctx, []meta.File{good, newFile(tenant, "also"), odd}); err == nil {
		t.Error("ClaimAll holding a file of kind \"other\" succeeded")
	}
	if _, err := a.Get(ctx, tenant, good.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("a claim of a failed ClaimAll remains: %v", err)
	}
	checkEvents(t, logOf(a), tenant, want)
	checkEvents(t, logOf(b), tenant, want)
}

func second[T any](_ T, err error) error { return err }

// testClaimAllEvents: a ClaimAll makes one file.created per record it
// creates, in the order of the files given, each tenant in its own log,
// and none for a record it finds or for a second file of one hash.
func testClaimAllEvents(t *testing.T, a, b meta.Store) {
	ctx := context.Background()
	t1, t2 := tenantName("t1"), tenantName("t2")
	old := mustClaim(t, a, newFile(t1, "old"))
	files := []meta.File{
		newFile(t2, "z"), newFile(t1, "y"), newFile(t1, "old"), newFile(t1, "x"),
		newFile(t2, "a"), newFile(t1, "y"), newFile(t1, "w"),
	}
	got, err := b.ClaimAll(ctx, files)
	if err != nil {
		t.Fatalf("ClaimAll: %v", err)
	}
	rec := func(i int) meta.File { return got[i].Rec }
	checkEvents(t, logOf(a), t1, []wantEvent{
		{typ: meta.EventCreated, rec: old},
		{typ: meta.EventCreated, rec: rec(1)}, {typ: meta.EventCreated, rec: rec(3)}, {typ: meta.EventCreated, rec: rec(6)},
	})
	checkEvents(t, logOf(a), t2, []wantEvent{{typ: meta.EventCreated, rec: rec(0)}, {typ: meta.EventCreated, rec: rec(4)}})
	if _, err := a.ClaimAll(ctx, files); err != nil { // every record found: no event
		t.Fatalf("second ClaimAll: %v", err)
	}
	if n, err := logOf(b).LastEvent(ctx, t1); err != nil || n != 4 {
		t.Errorf("LastEvent after a ClaimAll that created nothing = %d, %v; want 4", n, err)
	}
}

// testEventsPerTenant: each tenant's Seqs start at 1 and follow one
// another, whatever the other tenants do; a tenant without events has
// none, and LastEvent 0.
func testEventsPerTenant(t *testing.T, a, b meta.Store) {
	ctx := context.Background()
	t1, t2 := tenantName("t1"), tenantName("t2")
	var w1, w2 []wantEvent
	for i := range 3 {
		w1 = append(w1, wantEvent{typ: meta.EventCreated, rec: mustClaim(t, a, newFile(t1, fmt.Sprint("same", i)))})
		w2 = append(w2, wantEvent{typ: meta.EventCreated, rec: mustClaim(t, b, newFile(t2, fmt.Sprint("same", i)))})
	}
	checkEvents(t, logOf(b), t1, w1)
	checkEvents(t, logOf(a), t2, w2)
	nobody := tenantName("nobody")
	if n, err := logOf(a).LastEvent(ctx, nobody); err != nil || n != 0 {
		t.Errorf("LastEvent of a tenant without events = %d, %v; want 0", n, err)
	}
	if got, err := logOf(b).Events(ctx, nobody, meta.EventQuery{}); err != nil || len(got) != 0 {
		t.Errorf("Events of a tenant without events = %v, %v; want none", got, err)
	}
}

// testEventsQuery: Events keeps the types asked for, starts after After,
// stops at Limit (DefaultEventLimit when 0, at most MaxEventLimit).
func testEventsQuery(t *testing.T, a, b meta.Store) {
	ctx := context.Background()
	tenant := tenantName("t")
	files := make([]meta.File, 5)
	for i := range files {
		files[i] = newFile(tenant, fmt.Sprint("q", i))
	}
	if _, err := a.ClaimAll(ctx, files); err != nil { // 1 to 5
		t.Fatal(err)
	}
	for i, u := range []meta.Update{ // 6, 7, 8
		{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1},
		{From: meta.StatusPending, To: meta.StatusUploaded, Size: 2},
		{From: meta.StatusPending, To: meta.StatusFailed, Reason: "x"},
	} {
		if _, err := a.Transition(ctx, files[i].ID, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Delete(ctx, tenant, files[3].ID); err != nil { // 9
		t.Fatal(err)
	}
	l := logOf(b)
	seqs := func(q meta.EventQuery) []int64 {
		t.Helper()
		got, err := l.Events(ctx, tenant, q)
		if err != nil {
			t.Fatalf("Events(%+v): %v", q, err)
		}
		out := []int64{}
		for _, e := range got {
			out = append(out, e.Seq)
		}
		return out
	}
	for _, tc := range []struct {
		q    meta.EventQuery
		want []int64
	}{
		{meta.EventQuery{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{meta.EventQuery{Types: []meta.EventType{meta.EventUploaded}}, []int64{6, 7}},
		{meta.EventQuery{Types: []meta.EventType{meta.EventDeleted, meta.EventFailed}}, []int64{8, 9}},
		{meta.EventQuery{Types: []meta.EventType{meta.EventCreated}, After: 3}, []int64{4, 5}},
		{meta.EventQuery{Types: []meta.EventType{"file.unknown"}}, []int64{}},
		{meta.EventQuery{After: 3, Limit: 2}, []int64{4, 5}},
		{meta.EventQuery{After: 5, Limit: 1, Types: []meta.EventType{meta.EventUploaded, meta.EventFailed}}, []int64{6}},
		{meta.EventQuery{After: 9}, []int64{}},
		{meta.EventQuery{After: 100}, []int64{}},
	} {
		if got := seqs(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("Events(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}

	// The bounds of Limit, on a tenant of more than MaxEventLimit events.
	big := tenantName("big")
	many := make([]meta.File, meta.MaxEventLimit+5)
	for i := range many {
		many[i] = newFile(big, fmt.Sprint("many", i))
	}
	if _, err := a.ClaimAll(ctx, many); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ limit, want int }{
		{0, meta.DefaultEventLimit}, {-1, meta.DefaultEventLimit}, {meta.MaxEventLimit * 2, meta.MaxEventLimit}, {7, 7},
	} {
		got, err := l.Events(ctx, big, meta.EventQuery{Limit: tc.limit})
		if err != nil || len(got) != tc.want || got[0].Seq != 1 || lastSeq(got) != int64(tc.want) {
			t.Errorf("Events(Limit %d) = %d events, %v; want %d, from Seq 1", tc.limit, len(got), err, tc.want)
		}
	}
	if got := allEvents(t, l, big); len(got) != len(many) {
		t.Errorf("%d events read page by page, want %d", len(got), len(many))
	}
}

// testEventsConcurrent: goroutines on both stores change records of two
// tenants at once (claims, ClaimAlls of both tenants, transitions, deletes,
// and changes that do not apply), while a reader follows one tenant's log
// by Seq. Each tenant's log ends as exactly the events of the changes that
// applied, Seqs 1 to their number, and the reader read every one of them
// once, in order: no Seq appeared after the reader had read past it.
func testEventsConcurrent(t *testing.T, a, b meta.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t1, t2 := tenantName("t1"), tenantName("t2")
	const workers, rounds = 6, 8
	var made [2]atomic.Int64 // the events of t1 and t2 the changes that applied made
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers+1)
	for g := range workers {
		s := []meta.Store{a, b}[g%2]
		wg.Go(func() {
			if err := eventChanges(ctx, s, t1, t2, g, rounds, &made); err != nil {
				errs <- fmt.Errorf("worker %d: %w", g, err)
				cancel()
			}
		})
	}
	writing := make(chan struct{})
	var read []int64
	reader := make(chan struct{})
	go func() {
		defer close(reader)
		for n := 0; ; n++ {
			l := logOf([]meta.Store{a, b}[n%2]) // reads from either store
			select {
			case <-writing:
				if lastOf(read) >= made[0].Load() {
					return
				}
			default:
			}
			page, err := l.Events(ctx, t1, meta.EventQuery{After: lastOf(read), Limit: 3})
			if err != nil {
				errs <- fmt.Errorf("reader: %w", err)
				return
			}
			for _, e := range page {
				read = append(read, e.Seq)
			}
			if len(page) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	wg.Wait()
	close(writing)
	<-reader
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, tenant := range []string{t1, t2} {
		n := made[i].Load()
		got := allEvents(t, logOf(a), tenant)
		if int64(len(got)) != n {
			t.Errorf("%s has %d events, want %d (one per change that applied)", tenant, len(got), n)
		}
		for j, e := range got {
			if e.Seq != int64(j+1) {
				t.Fatalf("%s: event %d has Seq %d: the Seqs have gaps or repeats", tenant, j, e.Seq)
			}
		}
		if last, err := logOf(b).LastEvent(ctx, tenant); err != nil || last != n {
			t.Errorf("LastEvent(%s) = %d, %v; want %d", tenant, last, err, n)
		}
	}
	for j, seq := range read {
		if seq != int64(j+1) {
			t.Fatalf("the reader read Seq %d after %v: an event committed behind one it had read", seq, read[max(0, j-3):j])
		}
	}
	if int64(len(read)) != made[0].Load() {
		t.Fatalf("the reader read %d events of %s, want %d", len(read), t1, made[0].Load())
	}
	t.Logf("%d and %d events, %d read as they came", made[0].Load(), made[1].Load(), len(read))
}

func lastOf(seqs []int64) int64 {
	if len(seqs) == 0 {
		return 0
	}
	return seqs[len(seqs)-1]
}

// eventChanges is the work of one goroutine of testEventsConcurrent: in
// each round, a claim of a new record of t1, then a ClaimAll of new
// records of both tenants (in an order that changes with the round) and
// of one known, a transition of each new record to uploaded or failed, a
// transition that does not apply, and a delete. It counts in made the
// events of each tenant that its changes made.
func eventChanges(ctx context.Context, s meta.Store, t1, t2 string, g, rounds int, made *[2]atomic.Int64) error {
	for r := range rounds {
		name := fmt.Sprint("w", g, "r", r)
		f, created, err := s.Claim(ctx, newFile(t1, name))
		if err != nil || !created {
			return fmt.Errorf("Claim: created %v, %w", created, err)
		}
		made[0].Add(1)
		batch := []meta.File{newFile(t1, name+"a"), newFile(t2, name+"b"), newFile(t1, name), newFile(t2, name+"c")}
		if r%2 == 1 {
			slices.Reverse(batch)
		}
		claimed, err := s.ClaimAll(ctx, batch)
		if err != nil {
			return fmt.Errorf("ClaimAll: %w", err)
		}
		made[0].Add(1)
		made[1].Add(2)
		var recs []meta.File
		for _, c := range claimed {
			if c.Created {
				recs = append(recs, c.Rec)
			}
		}
		for i, rec := range recs {
			u := meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1}
			if i%2 == 1 {
				u = meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "x"}
			}
			if _, err := s.Transition(ctx, rec.ID, u); err != nil {
				return fmt.Errorf("Transition: %w", err)
			}
			made[map[string]int{t1: 0, t2: 1}[rec.Tenant]].Add(1)
		}
		if _, err := s.Transition(ctx, f.ID, meta.Update{From: meta.StatusFailed, To: meta.StatusUploaded}); !errors.Is(err, meta.ErrConflict) {
			return fmt.Errorf("Transition from a status the record is not in: %v, want ErrConflict", err)
		}
		if _, err := s.Delete(ctx, t1, f.ID); err != nil {
			return fmt.Errorf("Delete: %w", err)
		}
		made[0].Add(1)
	}
	return nil
}

// testWatchEvents: a watch on one store hears, from the other, the tenant
// and Seq of each event that commits, once, and of nothing that did not
// commit; it returns when its context ends.
func testWatchEvents(t *testing.T, a, b meta.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tenant, warm := tenantName("t"), tenantName("warm")
	type note struct {
		tenant string
		seq    int64
	}
	seen := make(chan note, 1024)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	watched := make(chan error, 1)
	go func() {
		watched <- logOf(b).WatchEvents(wctx, func(tn string, seq int64) {
			select {
			case seen <- note{tn, seq}:
			default: // never blocks the store
			}
		})
	}()
	// The watch is in place once it hears of an event made after it:
	// make events of another tenant until one is heard.
	deadline := time.After(10 * time.Second)
	for ready := false; !ready; {
		mustClaim(t, a, newFile(warm, NewID()))
		select {
		case n := <-seen:
			ready = n.tenant == warm
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("no event heard within 10s")
		}
	}
	time.Sleep(100 * time.Millisecond)
	for len(seen) > 0 {
		<-seen
	}

	f := mustClaim(t, a, newFile(tenant, "f"))                                                                       // 1
	if _, err := b.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed}); err != nil { // 2
		t.Fatal(err)
	}
	if _, err := a.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded}); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("a transition from a status left: %v, want ErrConflict", err)
	}
	if _, err := a.ClaimAll(ctx, []meta.File{newFile(tenant, "g"), newFile(tenant, "h")}); err != nil { // 3, 4
		t.Fatal(err)
	}
	if _, err := a.Delete(ctx, tenant, f.ID); err != nil { // 5
		t.Fatal(err)
	}
	const want = 5
	heard := map[int64]int{}
	wait := time.After(10 * time.Second)
	for len(heard) < want {
		select {
		case n := <-seen:
			if n.tenant == tenant {
				heard[n.seq]++
			}
		case <-wait:
			t.Fatalf("heard of Seqs %v of %s within 10s, want 1 to %d", heard, tenant, want)
		}
	}
	quiet := time.After(300 * time.Millisecond)
	for done := false; !done; {
		select {
		case n := <-seen:
			if n.tenant == tenant {
				heard[n.seq]++
			}
		case <-quiet:
			done = true
		}
	}
	for seq := int64(1); seq <= want; seq++ {
		if heard[seq] != 1 {
			t.Errorf("heard of Seq %d %d times, want once (heard %v)", seq, heard[seq], heard)
		}
	}
	if len(heard) != want {
		t.Errorf("heard of Seqs %v, want 1 to %d", heard, want)
	}
	stop()
	select {
	case err := <-watched:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WatchEvents returned %v after its context ended, want an error wrapping context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchEvents did not return after its context ended")
	}
}

// testPruneEvents: PruneEvents removes every tenant's events made before
// the time given, a batch at a time, and no other; the next event of a
// tenant follows its latest Seq, pruned or not.
func testPruneEvents(t *testing.T, a, b meta.Store) {
	ctx := context.Background()
	t1, t2, t3 := tenantName("t1"), tenantName("t2"), tenantName("t3")
	for i := range 3 {
		mustClaim(t, a, newFile(t1, fmt.Sprint("old", i)))
	}
	mustClaim(t, b, newFile(t2, "old"))
	many := make([]meta.File, 1500) // more than a batch of any store, surely
	for i := range many {
		many[i] = newFile(t3, fmt.Sprint("many", i))
	}
	if _, err := a.ClaimAll(ctx, many); err != nil {
		t.Fatal(err)
	}
	cut := afterPause()
	kept := []meta.File{mustClaim(t, b, newFile(t1, "new0")), mustClaim(t, a, newFile(t1, "new1"))}

	n, err := logOf(b).PruneEvents(ctx, cut)
	if err != nil || n != int64(3+1+len(many)) {
		t.Fatalf("PruneEvents = %d, %v; want %d", n, err, 3+1+len(many))
	}
	got := allEvents(t, logOf(a), t1)
	if len(got) != 2 || got[0].Seq != 4 || got[1].Seq != 5 || got[0].File.ID != kept[0].ID || got[1].File.ID != kept[1].ID {
		t.Fatalf("%s's events after PruneEvents: %+v; want Seqs 4 and 5, the new ones", t1, got)
	}
	for tenant, last := range map[string]int64{t1: 5, t2: 1, t3: int64(len(many))} {
		if l, err := logOf(a).LastEvent(ctx, tenant); err != nil || l != last {
			t.Errorf("LastEvent(%s) after PruneEvents = %d, %v; want %d", tenant, l, err, last)
		}
	}
	if got := allEvents(t, logOf(b), t2); len(got) != 0 {
		t.Errorf("%s's events after PruneEvents: %+v; want none", t2, got)
	}
	next := mustClaim(t, b, newFile(t2, "next"))
	if got := allEvents(t, logOf(a), t2); len(got) != 1 || got[0].Seq != 2 || got[0].File.ID != next.ID {
		t.Errorf("%s's event after PruneEvents: %+v; want Seq 2, not a Seq made again", t2, got)
	}
	if n, err := logOf(a).PruneEvents(ctx, cut); err != nil || n != 0 {
		t.Errorf("second PruneEvents = %d, %v; want 0", n, err)
	}
}
