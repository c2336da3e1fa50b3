package webhook

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

var loopback, _ = ParseAllow([]string{"127.0.0.0/8"})

func testPayload(ev meta.Event) ([]byte, error) {
	return json.Marshal(map[string]any{"type": ev.Type, "data": map[string]string{"id": ev.File.ID}})
}

// newTestDispatcher runs a dispatcher over st, allowed to reach loopback,
// with short pauses, until the test ends.
func newTestDispatcher(t *testing.T, st Store, tweak ...func(*Config)) *Dispatcher {
	t.Helper()
	cfg := Config{Store: st, Payload: testPayload, Guard: Guard{Allow: loopback}, Workers: 2, Timeout: 2 * time.Second,
		RetryDelays: []time.Duration{20 * time.Millisecond}, Poll: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range tweak {
		f(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receiver is a webhook receiver that records what it takes, verified.
type receiver struct {
	t      *testing.T
	secret string
	srv    *httptest.Server
	answer func(n int) int // the status of the n-th delivery (from 1); 204 when nil

	mu  sync.Mutex
	got []delivery
}

type delivery struct {
	id, typ, file string
	ts            int64
	status        int
}

func newReceiver(t *testing.T, answer func(int) int) *receiver {
	r := &receiver{t: t, secret: NewSecret(), answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := verifyWebhook(r.secret, req.Header, body); err != nil {
		r.t.Errorf("a delivery that does not verify: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev struct {
		Type string
		Data struct{ ID string }
	}
	json.Unmarshal(body, &ev)
	ts, _ := strconv.ParseInt(req.Header.Get("webhook-timestamp"), 10, 64)
	r.mu.Lock()
	status := http.StatusNoContent
	if r.answer != nil {
		status = r.answer(len(r.got) + 1)
	}
	r.got = append(r.got, delivery{req.Header.Get("webhook-id"), ev.Type, ev.Data.ID, ts, status})
	r.mu.Unlock()
	w.WriteHeader(status)
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// taken returns "type file" of each delivery answered 2xx.
func (r *receiver) taken() []string {
	var out []string
	for _, d := range r.deliveries() {
		if d.status/100 == 2 {
			out = append(out, d.typ+" "+d.file)
		}
	}
	return out
}

func TestDispatcherDeliversEachEventOnceInOrder(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	all, some := newReceiver(t, nil), newReceiver(t, nil)
	st.add("acme", meta.EventCreated, meta.File{ID: "before"}) // before the webhooks: not theirs
	st.PutWebhook(ctx, meta.Webhook{ID: "wh_all", Tenant: "acme", URL: all.srv.URL, Secret: all.secret})
	st.PutWebhook(ctx, meta.Webhook{ID: "wh_some", Tenant: "acme", URL: some.srv.URL, Secret: some.secret,
		Types: []meta.EventType{meta.EventUploaded, meta.EventDeleted}})
	newTestDispatcher(t, st)
	st.add("other", meta.EventCreated, meta.File{ID: "x"}) // another tenant's
	var evs []meta.Event
	for _, e := range []struct {
		typ  meta.EventType
		file string
	}{{meta.EventCreated, "f1"}, {meta.EventUploaded, "f1"}, {meta.EventCreated, "f2"}, {meta.EventFailed, "f2"}, {meta.EventDeleted, "f1"}} {
		evs = append(evs, st.add("acme", e.typ, meta.File{ID: e.file}))
	}
	want := "file.created f1,file.uploaded f1,file.created f2,file.failed f2,file.deleted f1"
	waitFor(t, "every event", func() bool { return strings.Join(all.taken(), ",") == want })
	waitFor(t, "the events asked for", func() bool {
		return strings.Join(some.taken(), ",") == "file.uploaded f1,file.deleted f1"
	})
	waitFor(t, "the cursors at the end", func() bool { return st.get("wh_all").Cursor == 6 && st.get("wh_some").Cursor == 6 })
	time.Sleep(200 * time.Millisecond) // nothing more comes
	if n := len(all.deliveries()); n != 5 {
		t.Errorf("%d deliveries of 5 events", n)
	}
	for i, d := range all.deliveries() {
		if d.id != EventID(evs[i]) || !strings.HasPrefix(d.id, "evt_") || !strings.HasSuffix(d.id, "_"+strconv.FormatInt(evs[i].Seq, 10)) {
			t.Errorf("delivery %d: webhook-id %q, want %q", i, d.id, EventID(evs[i]))
		}
	}
	if EventID(meta.Event{Tenant: "a", Seq: 1}) == EventID(meta.Event{Tenant: "b", Seq: 1}) {
		t.Error("two tenants' events share an id")
	}
}

// TestDispatcherRetries: a receiver that answers 500 three times gets the
// event at the fourth attempt, under the same webhook-id, freshly signed;
// the events after it wait their turn.
func TestDispatcherRetries(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	r := newReceiver(t, func(n int) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	st.PutWebhook(ctx, meta.Webhook{ID: "wh", Tenant: "acme", URL: r.srv.URL, Secret: r.secret})
	newTestDispatcher(t, st, func(c *Config) { c.RetryDelays = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond} })
	ev := st.add("acme", meta.EventUploaded, meta.File{ID: "f1"})
	st.add("acme", meta.EventDeleted, meta.File{ID: "f1"})
	waitFor(t, "the retried event and the next", func() bool { return len(r.taken()) == 2 })
	ds := r.deliveries()
	if len(ds) != 5 {
		t.Fatalf("%d deliveries, want 3 refused, then 2: %+v", len(ds), ds)
	}
	for i, d := range ds[:4] {
		if d.id != EventID(ev) || d.typ != "file.uploaded" {
			t.Errorf("attempt %d: %+v, want the first event again", i+1, d)
		}
	}
	if ds[4].typ != "file.deleted" {
		t.Errorf("after the retried event: %+v", ds[4])
	}
	waitFor(t, "the cursor", func() bool { return st.get("wh").Cursor == 2 })
	if w := st.get("wh"); w.Attempts != 0 || w.LastError != "" || w.FailingSince != nil {
		t.Errorf("after success: %+v", w)
	}
}

// TestDispatcherMarksFailing: past the retry window the webhook is marked
// failing, says why, is retried at the last delay, and clears on success.
func TestDispatcherMarksFailing(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	var ok atomic.Bool
	r := newReceiver(t, func(int) int {
		if ok.Load() {
			return http.StatusOK
		}
		return http.StatusBadGateway
	})
	st.PutWebhook(ctx, meta.Webhook{ID: "wh", Tenant: "acme", URL: r.srv.URL, Secret: r.secret})
	newTestDispatcher(t, st, func(c *Config) {
		c.RetryFor = 100 * time.Millisecond
		c.RetryDelays = []time.Duration{10 * time.Millisecond, 300 * time.Millisecond}
	})
	st.add("acme", meta.EventUploaded, meta.File{ID: "f1"})
	waitFor(t, "failing", func() bool { return st.get("wh").FailingSince != nil })
	w := st.get("wh")
	if !strings.Contains(w.LastError, "502") || w.Attempts < 2 {
		t.Errorf("failing: %+v", w)
	}
	if d := time.Until(w.NextAttemptAt); d < 200*time.Millisecond {
		t.Errorf("failing, the next attempt in %v: want the last delay (300ms ±20%%)", d)
	}
	ok.Store(true)
	waitFor(t, "the delivery", func() bool { return len(r.taken()) == 1 })
	waitFor(t, "the failing mark cleared", func() bool { w := st.get("wh"); return w.FailingSince == nil && w.Cursor == 1 })
}

// TestDispatcherTakesOverAnExpiredLease: a holder that died mid-delivery
// (it took the webhook and never recorded) leaves it to the dispatcher
// once its lease ends; the dead holder's late record is refused.
func TestDispatcherTakesOverAnExpiredLease(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	r := newReceiver(t, nil)
	st.PutWebhook(ctx, meta.Webhook{ID: "wh", Tenant: "acme", URL: r.srv.URL, Secret: r.secret})
	st.add("acme", meta.EventUploaded, meta.File{ID: "f1"})
	if _, ok, _ := st.TakeWebhook(ctx, "dead", 500*time.Millisecond); !ok {
		t.Fatal("the dead holder took nothing")
	}
	start := time.Now()
	newTestDispatcher(t, st)
	waitFor(t, "the delivery", func() bool { return len(r.taken()) == 1 })
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("delivered %v after the dead holder took the webhook, within its lease", took)
	}
	waitFor(t, "the cursor", func() bool { return st.get("wh").Cursor == 1 })
	if err := st.RecordDelivery(ctx, "wh", "dead", meta.WebhookResult{Seq: 1, Delivered: true}); err != meta.ErrConflict {
		t.Errorf("the dead holder's late record: %v, want ErrConflict", err)
	}
}

// TestDispatcherPassesOverPrunedEvents: events pruned before delivery are
// passed over (and logged), not waited for forever.
func TestDispatcherPassesOverPrunedEvents(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	r := newReceiver(t, nil)
	st.PutWebhook(ctx, meta.Webhook{ID: "wh", Tenant: "acme", URL: "http://127.0.0.1:1/never", Secret: r.secret})
	st.add("acme", meta.EventUploaded, meta.File{ID: "f1"})
	st.add("acme", meta.EventDeleted, meta.File{ID: "f1"})
	st.PruneEvents(ctx, time.Now().Add(time.Second))
	newTestDispatcher(t, st)
	waitFor(t, "the cursor past the pruned events", func() bool { return st.get("wh").Cursor == 2 })
}

// TestSlowReceiverHoldsOneWorker: a receiver that does not answer holds
// one worker until the timeout; another webhook's events go meanwhile.
func TestSlowReceiverHoldsOneWorker(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	fast := newReceiver(t, nil)
	st.PutWebhook(ctx, meta.Webhook{ID: "wh_slow", Tenant: "acme", URL: slow.URL, Secret: NewSecret()})
	st.PutWebhook(ctx, meta.Webhook{ID: "wh_fast", Tenant: "acme", URL: fast.srv.URL, Secret: fast.secret})
	newTestDispatcher(t, st, func(c *Config) { c.Timeout = 5 * time.Second })
	start := time.Now()
	for i := range 3 {
		st.add("acme", meta.EventUploaded, meta.File{ID: "f" + strconv.Itoa(i)})
	}
	waitFor(t, "the fast receiver's events", func() bool { return len(fast.taken()) == 3 })
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the fast receiver got its events after %v, held up by the slow one", took)
	}
	if w := st.get("wh_slow"); w.Cursor != 0 {
		t.Errorf("the slow receiver's cursor moved: %+v", w)
	}
}

func TestConfigChecks(t *testing.T) {
	st := newMemStore()
	if _, err := New(Config{Store: st}); err == nil {
		t.Error("no Payload: no error")
	}
	if _, err := New(Config{Store: st, Payload: testPayload, Timeout: time.Second, Lease: time.Second}); err == nil {
		t.Error("a lease no longer than the timeout: no error")
	}
	d, err := New(Config{Store: st, Payload: testPayload})
	if err != nil || d.cfg.Lease != 15*time.Second || d.cfg.Workers != 4 || d.cfg.RetryFor != 24*time.Hour {
		t.Errorf("defaults: %+v, %v", d.cfg, err)
	}
	for attempt, want := range map[int]time.Duration{1: 5 * time.Second, 2: 30 * time.Second, 3: 2 * time.Minute, 5: time.Hour, 9: time.Hour} {
		for range 20 {
			if got := d.delay(attempt, false); got < want*8/10 || got > want*12/10 {
				t.Errorf("delay after attempt %d = %v, want %v ±20%%", attempt, got, want)
			}
		}
	}
	if got := d.delay(1, true); got < 48*time.Minute {
		t.Errorf("delay once failing = %v, want an hour ±20%%", got)
	}
}
