package metatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// RunWebhooks runs the conformance tests of meta.Webhooks on two stores
// that share one database, as two replicas do: a webhook one stores, the
// other lists and delivers, and no webhook is leased to two holders at
// once, whichever store they ask. A store serving one process passes
// itself as both. open is called once per subtest and must return empty
// stores; stores that are no Webhooks (or no EventLog, which webhooks
// deliver) are skipped.
func RunWebhooks(t *testing.T, open func(t *testing.T) (a, b meta.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b meta.Store)
	}{
		{"PutListDelete", testWebhooksStored},
		{"TakeLeasesWhatIsDue", testTakeWebhook},
		{"FailingUntilDelivered", testWebhookFailing},
		{"LeaseEndsAndIsLost", testWebhookLease},
		{"ConcurrentTakesLeaseEachToOneHolder", testConcurrentTakes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			_, hooks := a.(meta.Webhooks)
			_, log := a.(meta.EventLog)
			if !hooks || !log {
				t.Skip("store does not implement meta.Webhooks and meta.EventLog")
			}
			if _, ok := b.(meta.Webhooks); !ok {
				t.Fatal("the second store is no meta.Webhooks though the first is")
			}
			tc.fn(t, a, b)
		})
	}
}

// hooksOf returns s as the Webhooks RunWebhooks found it to be.
func hooksOf(s meta.Store) meta.Webhooks { return s.(meta.Webhooks) }

func newWebhook(tenant string, types ...meta.EventType) meta.Webhook {
	return meta.Webhook{ID: NewID(), Tenant: tenant, URL: "https://example.com/hook/" + NewID()[:8], Types: types,
		Secret: "whsec_" + NewID(), CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
}

func mustPut(t *testing.T, s meta.Store, w meta.Webhook) meta.Webhook {
	t.Helper()
	got, err := hooksOf(s).PutWebhook(context.Background(), w)
	if err != nil {
		t.Fatalf("PutWebhook: %v", err)
	}
	return got
}

// mustEvent makes an event of tenant (a new record) and returns its Seq.
func mustEvent(t *testing.T, s meta.Store, tenant string) int64 {
	t.Helper()
	mustClaim(t, s, newFile(tenant, NewID()))
	n, err := logOf(s).LastEvent(context.Background(), tenant)
	if err != nil {
		t.Fatalf("LastEvent: %v", err)
	}
	return n
}

// webhookOf returns the tenant's webhook with this id, as listed.
func webhookOf(t *testing.T, s meta.Store, tenant, id string) meta.Webhook {
	t.Helper()
	hooks, err := hooksOf(s).Webhooks(context.Background(), tenant)
	if err != nil {
		t.Fatalf("Webhooks: %v", err)
	}
	for _, w := range hooks {
		if w.ID == id {
			return w
		}
	}
	t.Fatalf("webhook %s is not listed", id)
	return meta.Webhook{}
}

// take takes a webhook for holder, failing t on an error.
func take(t *testing.T, s meta.Store, holder string, lease time.Duration) (meta.Webhook, bool) {
	t.Helper()
	w, ok, err := hooksOf(s).TakeWebhook(context.Background(), holder, lease)
	if err != nil {
		t.Fatalf("TakeWebhook(%s): %v", holder, err)
	}
	return w, ok
}

// testWebhooksStored: a webhook is stored as given, with its cursor at
// the tenant's latest Seq, listed oldest first by either store, in its
// tenant only, and deleted by its tenant only.
func testWebhooksStored(t *testing.T, a, b meta.Store) {
	ctx := context.Background()
	tenant := tenantName("t")
	first := newWebhook(tenant)
	before := time.Now().Add(-time.Second)
	w1 := mustPut(t, a, first)
	if w1.Cursor != 0 || w1.ID != first.ID || w1.Tenant != tenant || w1.URL != first.URL || w1.Secret != first.Secret ||
		len(w1.Types) != 0 || !w1.CreatedAt.Equal(first.CreatedAt) || w1.Attempts != 0 || w1.FailingSince != nil || w1.LastError != "" {
		t.Errorf("PutWebhook = %+v, want %+v with cursor 0", w1, first)
	}
	if w1.NextAttemptAt.Before(before) || w1.NextAttemptAt.After(time.Now().Add(time.Second)) {
		t.Errorf("a new webhook's NextAttemptAt = %v, want about now: due at once", w1.NextAttemptAt)
	}
	mustEvent(t, a, tenant)
	last := mustEvent(t, b, tenant)
	second := newWebhook(tenant, meta.EventUploaded, meta.EventDeleted)
	second.CreatedAt = first.CreatedAt.Add(time.Millisecond)
	w2 := mustPut(t, b, second)
	if w2.Cursor != last || !slices.Equal(w2.Types, second.Types) {
		t.Errorf("PutWebhook after %d events = cursor %d, types %v; want cursor %d, types %v", last, w2.Cursor, w2.Types, last, second.Types)
	}
	if _, err := hooksOf(a).PutWebhook(ctx, newWebhook(tenant)); err != nil {
		t.Fatalf("PutWebhook of a third: %v", err)
	}
	dup := newWebhook(tenantName("other"))
	dup.ID = w1.ID
	if _, err := hooksOf(b).PutWebhook(ctx, dup); !errors.Is(err, meta.ErrExists) {
		t.Errorf("PutWebhook of a stored id: %v, want ErrExists", err)
	}
	for _, s := range []meta.Store{a, b} {
		hooks, err := hooksOf(s).Webhooks(ctx, tenant)
		if err != nil || len(hooks) != 3 || hooks[0].ID != w1.ID || hooks[1].ID != w2.ID {
			t.Fatalf("Webhooks = %+v, %v; want 3, the first two given first", hooks, err)
		}
		if w := hooks[1]; w.URL != second.URL || w.Secret != second.Secret || !slices.Equal(w.Types, second.Types) ||
			w.Cursor != last || !w.CreatedAt.Equal(second.CreatedAt) {
			t.Errorf("Webhooks[1] = %+v, want %+v with cursor %d", w, second, last)
		}
	}
	if hooks, err := hooksOf(a).Webhooks(ctx, tenantName("nobody")); err != nil || len(hooks) != 0 {
		t.Errorf("Webhooks of a tenant without = %+v, %v; want none", hooks, err)
	}
	if err := hooksOf(a).DeleteWebhook(ctx, tenantName("other"), w1.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("DeleteWebhook by another tenant: %v, want ErrNotFound", err)
	}
	if err := hooksOf(b).DeleteWebhook(ctx, tenant, w1.ID); err != nil {
		t.Errorf("DeleteWebhook: %v", err)
	}
	if err := hooksOf(a).DeleteWebhook(ctx, tenant, w1.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("second DeleteWebhook: %v, want ErrNotFound", err)
	}
	if hooks, err := hooksOf(a).Webhooks(ctx, tenant); err != nil || len(hooks) != 2 || hooks[0].ID != w2.ID {
		t.Errorf("Webhooks after a delete = %+v, %v; want the other two", hooks, err)
	}
}

// testTakeWebhook: only a webhook with events after its cursor, due, and
// not leased is taken; a failed delivery counts an attempt and makes it
// wait; a delivered one moves the cursor on.
func testTakeWebhook(t *testing.T, a, b meta.Store) {
	ctx := context.Background()
	tenant := tenantName("t")
	w1 := mustPut(t, a, newWebhook(tenant))
	if w, ok := take(t, b, "holder-b", time.Minute); ok {
		t.Fatalf("TakeWebhook without events took %+v", w)
	}
	seq := mustEvent(t, b, tenant)
	got, ok := take(t, a, "holder-a", time.Minute)
	if !ok || got.ID != w1.ID || got.Cursor != 0 {
		t.Fatalf("TakeWebhook after an event = %+v, %v; want %s at cursor 0", got, ok, w1.ID)
	}
	if w, ok := take(t, b, "holder-b", time.Minute); ok {
		t.Fatalf("TakeWebhook of a leased webhook took %+v", w)
	}
	retry := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	if err := hooksOf(b).RecordDelivery(ctx, w1.ID, "holder-a", meta.WebhookResult{Seq: seq, NextAttemptAt: retry, Error: "503"}); err != nil {
		t.Fatalf("RecordDelivery of a failure: %v", err)
	}
	w := webhookOf(t, a, tenant, w1.ID)
	if w.Cursor != 0 || w.Attempts != 1 || w.LastError != "503" || !w.NextAttemptAt.Equal(retry) || w.FailingSince != nil {
		t.Errorf("after a failed delivery: %+v; want cursor 0, 1 attempt, error 503, next attempt %v", w, retry)
	}
	if w, ok := take(t, a, "holder-a", time.Minute); ok {
		t.Fatalf("TakeWebhook of a webhook not due took %+v", w)
	}
	if err := hooksOf(a).RecordDelivery(ctx, w1.ID, "holder-a", meta.WebhookResult{Seq: seq, Delivered: true}); !errors.Is(err, meta.ErrConflict) {
		t.Errorf("RecordDelivery after the lease ended with a record: %v, want ErrConflict", err)
	}

	w2 := mustPut(t, b, newWebhook(tenant, meta.EventCreated))
	if w2.Cursor != seq {
		t.Fatalf("cursor of a new webhook = %d, want %d", w2.Cursor, seq)
	}
	if w, ok := take(t, a, "holder-a", time.Minute); ok {
		t.Fatalf("TakeWebhook took %+v though no webhook is due with events", w)
	}
	seq = mustEvent(t, a, tenant)
	if got, ok := take(t, b, "holder-b", time.Minute); !ok || got.ID != w2.ID || got.Cursor != seq-1 {
		t.Fatalf("TakeWebhook = %+v, %v; want %s at cursor %d", got, ok, w2.ID, seq-1)
	}
	if err := hooksOf(a).RecordDelivery(ctx, w2.ID, "holder-b", meta.WebhookResult{Seq: seq, Delivered: true}); err != nil {
		t.Fatalf("RecordDelivery of a delivery: %v", err)
	}
	if w := webhookOf(t, b, tenant, w2.ID); w.Cursor != seq || w.Attempts != 0 || w.LastError != "" {
		t.Errorf("after a delivery: %+v; want cursor %d, no attempts", w, seq)
	}
	if w, ok := take(t, b, "holder-b", time.Minute); ok {
		t.Fatalf("TakeWebhook of a webhook with no events after its cursor took %+v", w)
	}
	if _, _, err := hooksOf(a).TakeWebhook(ctx, "", time.Minute); err == nil {
		t.Error("TakeWebhook for an empty holder succeeded")
	}
}

// testWebhookFailing: a failure past the retry window marks the webhook
// failing since then, a later one keeps that time, a delivery clears it.
func testWebhookFailing(t *testing.T, a, b meta.Store) {
	ctx := context.Background()
	tenant := tenantName("t")
	w := mustPut(t, a, newWebhook(tenant))
	seq := mustEvent(t, a, tenant)
	var since time.Time
	for i := range 3 {
		got, ok := take(t, []meta.Store{a, b}[i%2], fmt.Sprint("holder", i), time.Minute)
		if !ok || got.ID != w.ID || got.Attempts != i {
			t.Fatalf("take %d = %+v, %v; want %s after %d attempts", i, got, ok, w.ID, i)
		}
		before := time.Now()
		r := meta.WebhookResult{Seq: seq, NextAttemptAt: time.Now().Add(-time.Second), Failing: i > 0, Error: fmt.Sprint("failure ", i)}
		if err := hooksOf(b).RecordDelivery(ctx, w.ID, fmt.Sprint("holder", i), r); err != nil {
			t.Fatalf("RecordDelivery %d: %v", i, err)
		}
		got = webhookOf(t, a, tenant, w.ID)
		switch {
		case i == 0 && got.FailingSince != nil:
			t.Fatalf("failing since %v after a failure within the window", got.FailingSince)
		case i == 1:
			if got.FailingSince == nil || got.FailingSince.Before(before.Add(-time.Second)) || got.FailingSince.After(time.Now().Add(time.Second)) {
				t.Fatalf("FailingSince = %v after a failure past the window, want about now", got.FailingSince)
			}
			since = *got.FailingSince
		case i == 2 && (got.FailingSince == nil || !got.FailingSince.Equal(since)):
			t.Fatalf("FailingSince = %v after a second failure past the window, want it kept at %v", got.FailingSince, since)
		}
		if got.Attempts != i+1 || got.LastError != r.Error {
			t.Fatalf("after failure %d: %+v", i, got)
		}
	}
	if _, ok := take(t, a, "holder", time.Minute); !ok {
		t.Fatal("a failing webhook due again was not taken")
	}
	if err := hooksOf(a).RecordDelivery(ctx, w.ID, "holder", meta.WebhookResult{Seq: seq, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	if got := webhookOf(t, b, tenant, w.ID); got.FailingSince != nil || got.Attempts != 0 || got.LastError != "" || got.Cursor != seq {
		t.Fatalf("after a delivery: %+v; want it no longer failing, at cursor %d", got, seq)
	}
}

// testWebhookLease: a lease that ends lets another holder take the
// webhook, and the first then finds its lease lost; a deleted webhook is
// not found.
func testWebhookLease(t *testing.T, a, b meta.Store) {
	ctx := context.Background()
	tenant := tenantName("t")
	w := mustPut(t, a, newWebhook(tenant))
	seq := mustEvent(t, b, tenant)
	if got, ok := take(t, a, "holder-a", 300*time.Millisecond); !ok || got.ID != w.ID {
		t.Fatalf("TakeWebhook = %+v, %v; want %s", got, ok, w.ID)
	}
	if got, ok := take(t, b, "holder-b", time.Minute); ok {
		t.Fatalf("TakeWebhook while the lease runs took %+v", got)
	}
	time.Sleep(500 * time.Millisecond)
	if got, ok := take(t, b, "holder-b", time.Minute); !ok || got.ID != w.ID {
		t.Fatalf("TakeWebhook after the lease ended = %+v, %v; want %s", got, ok, w.ID)
	}
	if err := hooksOf(a).RecordDelivery(ctx, w.ID, "holder-a", meta.WebhookResult{Seq: seq, Delivered: true}); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("RecordDelivery of a lost lease: %v, want ErrConflict", err)
	}
	if got := webhookOf(t, a, tenant, w.ID); got.Cursor != 0 {
		t.Fatalf("a lost lease's delivery moved the cursor to %d", got.Cursor)
	}
	if err := hooksOf(a).DeleteWebhook(ctx, tenant, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := hooksOf(b).RecordDelivery(ctx, w.ID, "holder-b", meta.WebhookResult{Seq: seq, Delivered: true}); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("RecordDelivery of a deleted webhook: %v, want ErrNotFound", err)
	}
}

// testConcurrentTakes: holders on both stores take webhooks at once until
// none is left: each webhook is leased to exactly one of them.
func testConcurrentTakes(t *testing.T, a, b meta.Store) {
	ctx := context.Background()
	const hooks, holders = 6, 8
	ids := map[string]bool{}
	for i := range hooks {
		tenant := tenantName(fmt.Sprint("t", i%2))
		ids[mustPut(t, []meta.Store{a, b}[i%2], newWebhook(tenant)).ID] = true
		mustEvent(t, a, tenant)
	}
	var mu sync.Mutex
	taken := map[string][]string{} // webhook → its holders
	var wg sync.WaitGroup
	errs := make(chan error, holders)
	start := make(chan struct{})
	for h := range holders {
		s := []meta.Store{a, b}[h%2]
		holder := fmt.Sprint("holder-", h)
		wg.Go(func() {
			<-start
			for {
				w, ok, err := hooksOf(s).TakeWebhook(ctx, holder, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				taken[w.ID] = append(taken[w.ID], holder)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("TakeWebhook: %v", err)
	}
	for id := range ids {
		if len(taken[id]) != 1 {
			t.Errorf("webhook %s was leased to %v, want exactly one holder", id, taken[id])
		}
	}
	if len(taken) != hooks {
		t.Errorf("%d webhooks taken, want %d", len(taken), hooks)
	}
	for id, hs := range taken {
		if err := hooksOf(a).RecordDelivery(ctx, id, hs[0], meta.WebhookResult{Seq: 1, Delivered: true}); err != nil {
			t.Errorf("RecordDelivery by the holder of %s: %v", id, err)
		}
	}
}
