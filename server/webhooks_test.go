package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/internal/webhook"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/blob/local"
	s3blob "github.com/perseus-go/perseus/store/blob/s3"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/postgres"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// hookBackends runs fn on the embedded default (SQLite and a directory)
// and on PostgreSQL and S3. servers makes servers over one pair of stores,
// each running its background work (deliveries among it) until the test
// ends: on PostgreSQL, each is a replica with connections of its own.
func hookBackends(t *testing.T, fn func(t *testing.T, servers func(tweak ...func(*Config)) *testEnv)) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { fn(t, hookServers(t, backend)) })
	}
}

func hookServers(t *testing.T, backend string) func(tweak ...func(*Config)) *testEnv {
	ctx := context.Background()
	var open func() (meta.Store, blob.Store)
	switch backend {
	case "sqlite":
		dir := t.TempDir()
		db, err := sqlite.Open(ctx, filepath.Join(dir, "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		bs, err := local.Open(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		open = func() (meta.Store, blob.Store) { return db, bs }
	case "postgres":
		pgURL, s3URL := testenv.PostgresSchemaURL(t), testenv.S3URL(t, "perseus-test/webhooks")
		open = func() (meta.Store, blob.Store) {
			db, err := postgres.Open(ctx, pgURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			bs, err := s3blob.Open(ctx, s3URL)
			if err != nil {
				t.Fatal(err)
			}
			return db, bs
		}
	}
	return func(tweak ...func(*Config)) *testEnv {
		db, bs := open()
		e := &testEnv{t: t, meta: &faultyMeta{Store: db}}
		cfg := Config{Meta: e.meta, Blobs: bs, SigningKey: testSigningKey,
			StaticKeys: map[string]string{keyA: tenantA, keyB: tenantB}, VerifyInterval: 20 * time.Millisecond,
			WebhookAllow: loopbackOnly, WebhookRetryDelays: []time.Duration{50 * time.Millisecond},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		for _, f := range tweak {
			f(&cfg)
		}
		var err error
		if e.srv, err = New(cfg); err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { e.srv.Run(runCtx); close(done) }()
		ts := httptest.NewServer(e.srv.Handler())
		t.Cleanup(func() { ts.Close(); cancel(); <-done })
		e.url = ts.URL
		return e
	}
}

// hookReceiver is a webhook receiver on loopback: it checks each
// delivery's signature (webhook.Sign with the endpoint's secret, over
// id.timestamp.body, a timestamp within five minutes) and records it.
type hookReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	secret  string
	got     []hookDelivery
	answer  func(n int) int // the status of the n-th delivery, from 1; nil: 204
	hold    chan struct{}   // when set, each delivery waits for it to close
	arrived chan struct{}   // a delivery arrived (buffered, 1)
}

type hookDelivery struct {
	ID, Type, Timestamp string
	Data                json.RawMessage
	Status              int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{t: t, arrived: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.mu.Lock()
		if r.hold != nil {
			close(r.hold)
			r.hold = nil
		}
		r.mu.Unlock()
		r.srv.Close()
	})
	return r
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	secret, hold := r.secret, r.hold
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	sec, _ := strconv.ParseInt(ts, 10, 64)
	want, err := webhook.Sign(secret, id, sec, body)
	if err != nil || req.Header.Get("webhook-signature") != want || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute ||
		req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("a delivery whose signature does not verify: %v %q", req.Header, body)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
			return
		}
	}
	var ev hookDelivery
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("a delivery that is not JSON: %q", body)
	}
	ev.ID = id
	r.mu.Lock()
	ev.Status = http.StatusNoContent
	if r.answer != nil {
		ev.Status = r.answer(len(r.got) + 1)
	}
	r.got = append(r.got, ev)
	r.mu.Unlock()
	w.WriteHeader(ev.Status)
}

func (r *hookReceiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *hookReceiver) deliveries() []hookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// taken returns the deliveries answered 2xx.
func (r *hookReceiver) taken() []hookDelivery {
	var out []hookDelivery
	for _, d := range r.deliveries() {
		if d.Status/100 == 2 {
			out = append(out, d)
		}
	}
	return out
}

// addHook registers r's URL for key's tenant, and gives r the secret.
func (e *testEnv) addHook(key string, r *hookReceiver, events ...string) string {
	e.t.Helper()
	res := e.call("POST", "/api/v0/webhooks", key, map[string]any{"url": r.srv.URL + "/hooks", "events": events})
	var w webhookJSON
	if err := json.Unmarshal(res.body, &w); err != nil || res.status != http.StatusCreated || !strings.HasPrefix(w.Secret, "whsec_") {
		e.t.Fatalf("add webhook: %d %s", res.status, res.body)
	}
	r.setSecret(w.Secret)
	return w.ID
}

func (e *testEnv) hooks(key string) []webhookState {
	e.t.Helper()
	res := e.call("GET", "/api/v0/webhooks", key, nil)
	var out struct{ Webhooks []webhookState }
	if err := json.Unmarshal(res.body, &out); err != nil || res.status != http.StatusOK {
		e.t.Fatalf("list webhooks: %d %s", res.status, res.body)
	}
	return out.Webhooks
}

// settle uploads content to a file made for it (create, PUT, and on a
// store that takes uploads directly, a wait for its verification) and
// returns the file as GET answers it once settled: uploaded, or failed
// when wrong is given (the bytes sent instead).
func (e *testEnv) settle(key, name string, content, wrong []byte) File {
	e.t.Helper()
	c := e.create(key, name, content)
	if c.status != http.StatusCreated {
		e.t.Fatalf("create: %d %s", c.status, c.body)
	}
	body := content
	if wrong != nil {
		body = wrong
	}
	var res *http.Response
	var answer []byte
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest("PUT", c.UploadURL, bytes.NewReader(body))
		var err error
		if res, err = http.DefaultClient.Do(req); err != nil {
			e.t.Fatal(err)
		}
		answer, _ = io.ReadAll(res.Body)
		res.Body.Close()
		// versitygw's directory store, where a PUT under a prefix races the
		// removal of the prefix's last object (the staging copy of the
		// file before), answers 409 ExistingObjectIsDirectory: S3 never does.
		if res.StatusCode != http.StatusConflict || !bytes.Contains(answer, []byte("ExistingObjectIsDirectory")) || attempt == 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	g := e.call("GET", "/api/v0/file/"+c.Rec.ID+"?wait=20s", key, nil)
	if want := map[bool]string{false: "uploaded", true: "failed"}[wrong != nil]; g.Status != want {
		e.t.Fatalf("%s is %s after its PUT (%d %s to %s), want %s", name, g.body, res.StatusCode, answer, c.UploadURL, want)
	}
	return g.File
}

// hookTest calls POST /api/v0/webhooks/{id}/test.
func (e *testEnv) hookTest(key, id string) (int, webhookTestResult) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/api/v0/webhooks/"+id+"/test", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var tr webhookTestResult
	if err := json.NewDecoder(res.Body).Decode(&tr); err != nil {
		e.t.Fatalf("test: %d, %v", res.StatusCode, err)
	}
	return res.StatusCode, tr
}

func hookWait(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhooksDeliverEveryEventOnceInOrder: every event type arrives once
// at a receiver, signed, in order, with the file as GET answers it; one
// that asked for some types gets those; another tenant's events go to its
// own webhooks only.
func TestWebhooksDeliverEveryEventOnceInOrder(t *testing.T) {
	hookBackends(t, func(t *testing.T, servers func(...func(*Config)) *testEnv) {
		e := servers()
		all, some, other := newHookReceiver(t), newHookReceiver(t), newHookReceiver(t)
		allID := e.addHook(keyA, all)
		e.addHook(keyA, some, "file.uploaded", "file.uploaded")
		e.addHook(keyB, other, "file.created")

		a := e.settle(keyA, "a.txt", []byte("content a"), nil)
		b := e.settle(keyA, "b.txt", []byte("content b"), []byte("not b"))
		if r := e.call("DELETE", "/api/v0/file/"+a.ID, keyA, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		e.settle(keyB, "c.txt", []byte("content c"), nil)

		want := []string{"file.created " + a.ID, "file.uploaded " + a.ID, "file.created " + b.ID, "file.failed " + b.ID, "file.deleted " + a.ID}
		summary := func(ds []hookDelivery) []string {
			var out []string
			for _, d := range ds {
				var f File
				json.Unmarshal(d.Data, &f)
				out = append(out, d.Type+" "+f.ID)
			}
			return out
		}
		hookWait(t, "every event", func() bool { return len(all.deliveries()) >= len(want) && len(some.deliveries()) >= 1 })
		time.Sleep(300 * time.Millisecond) // what would come twice has had time to
		got := all.deliveries()
		if !slices.Equal(summary(got), want) {
			t.Fatalf("deliveries:\n  %s\nwant, once each, in order:\n  %s", strings.Join(summary(got), "\n  "), strings.Join(want, "\n  "))
		}
		if s := summary(some.deliveries()); !slices.Equal(s, want[1:2]) {
			t.Errorf("the webhook of file.uploaded got %q", s)
		}
		if s := summary(other.deliveries()); len(s) != 1 || !strings.HasPrefix(s[0], "file.created ") || s[0] == want[0] {
			t.Errorf("tenant B's webhook of file.created got %q", s)
		}
		var seqs []int
		for i, d := range got {
			var f File
			if err := json.Unmarshal(d.Data, &f); err != nil {
				t.Fatal(err)
			}
			checkFile(t, f)
			if !createdAtShape.MatchString(d.Timestamp) {
				t.Errorf("event %d: timestamp %q", i, d.Timestamp)
			}
			n, err := strconv.Atoi(d.ID[strings.LastIndex(d.ID, "_")+1:])
			if !strings.HasPrefix(d.ID, "evt_") || err != nil {
				t.Errorf("event %d: webhook-id %q", i, d.ID)
			}
			seqs = append(seqs, n)
			switch i {
			case 1, 4: // uploaded, then deleted as it was: the file as GET answered it
				if f != a {
					t.Errorf("%s's file: %+v\nGET answered %+v", d.Type, f, a)
				}
			case 3:
				if f != b || f.Status != "failed" || f.Reason == "" {
					t.Errorf("file.failed's file: %+v\nGET answered %+v", f, b)
				}
			case 0:
				if f.Status != "pending" || f.ID != a.ID || f.Name != "a.txt" {
					t.Errorf("file.created's file: %+v", f)
				}
			}
		}
		if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
			t.Errorf("webhook-ids not one per event, in order: %v", seqs)
		}
		if got := some.deliveries(); len(got) == 1 && got[0].ID != all.deliveries()[1].ID {
			t.Errorf("one event, two ids: %s and %s", got[0].ID, all.deliveries()[1].ID)
		}
		hookWait(t, "the cursor at the last event", func() bool {
			for _, h := range e.hooks(keyA) {
				if h.ID == allID {
					return h.Cursor == int64(seqs[len(seqs)-1]) && h.State == "ok" && h.Attempts == 0
				}
			}
			return false
		})
	})
}

// TestWebhookRetriedUntilTaken: a receiver that answers 500 three times
// then 200 gets the event, under one webhook-id; meanwhile the list says
// the webhook is retrying, and why.
func TestWebhookRetriedUntilTaken(t *testing.T) {
	hookBackends(t, func(t *testing.T, servers func(...func(*Config)) *testEnv) {
		e := servers(func(c *Config) { c.WebhookRetryDelays = []time.Duration{400 * time.Millisecond} })
		r := newHookReceiver(t)
		r.answer = func(n int) int {
			if n <= 3 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		}
		id := e.addHook(keyA, r, "file.uploaded")
		f := e.settle(keyA, "retried.txt", []byte("retried"), nil)
		hookWait(t, "a retrying webhook", func() bool {
			h := e.hooks(keyA)[0]
			return h.State == "retrying" && h.Attempts >= 1 && h.NextAttemptAt != "" && strings.Contains(h.LastError, "500")
		})
		hookWait(t, "the event taken", func() bool { return len(r.taken()) == 1 })
		ds := r.deliveries()
		if len(ds) != 4 {
			t.Fatalf("%d deliveries, want 3 refused then 1 taken", len(ds))
		}
		for _, d := range ds {
			var got File
			json.Unmarshal(d.Data, &got)
			if d.ID != ds[0].ID || d.Type != "file.uploaded" || got != f {
				t.Errorf("attempt %+v: not the same event", d)
			}
		}
		hookWait(t, "the webhook ok again", func() bool {
			h := e.hooks(keyA)[0]
			return h.ID == id && h.State == "ok" && h.Attempts == 0 && h.LastError == "" && h.NextAttemptAt == ""
		})
	})
}

// TestWebhookFailingAfterTheRetryWindow: past --webhook-retry-for, the
// list says failing (since when, why); the event still comes once the
// receiver takes it, and the mark clears.
func TestWebhookFailingAfterTheRetryWindow(t *testing.T) {
	e := hookServers(t, "sqlite")(func(c *Config) {
		c.WebhookRetryFor = 200 * time.Millisecond
		c.WebhookRetryDelays = []time.Duration{50 * time.Millisecond, 500 * time.Millisecond}
	})
	r := newHookReceiver(t)
	var mu sync.Mutex
	down := true
	r.answer = func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	}
	e.addHook(keyA, r, "file.created")
	e.create(keyA, "f.txt", []byte("failing"))
	hookWait(t, "a failing webhook", func() bool {
		h := e.hooks(keyA)[0]
		return h.State == "failing" && h.FailingSince != "" && strings.Contains(h.LastError, "503")
	})
	mu.Lock()
	down = false
	mu.Unlock()
	hookWait(t, "the event taken", func() bool { return len(r.taken()) == 1 })
	hookWait(t, "the failing mark cleared", func() bool { h := e.hooks(keyA)[0]; return h.State == "ok" && h.FailingSince == "" })
}

// TestWebhooksTwoReplicasDeliverEachEventOnce: two replicas on one
// PostgreSQL, both delivering: each event reaches the receiver once.
func TestWebhooksTwoReplicasDeliverEachEventOnce(t *testing.T) {
	servers := hookServers(t, "postgres")
	a, b := servers(), servers()
	r := newHookReceiver(t)
	a.addHook(keyA, r)
	const files = 8
	for i := range files {
		e := []*testEnv{a, b}[i%2]
		e.settle(keyA, fmt.Sprintf("f%d.txt", i), fmt.Appendf(nil, "content %d", i), nil)
	}
	hookWait(t, "every event", func() bool { return len(r.deliveries()) >= 2*files })
	time.Sleep(500 * time.Millisecond)
	seen := map[string]int{}
	for _, d := range r.deliveries() {
		seen[d.ID]++
	}
	if len(seen) != 2*files || len(r.deliveries()) != 2*files {
		t.Errorf("%d deliveries of %d events (%d ids), want each once: %v", len(r.deliveries()), 2*files, len(seen), seen)
	}
}

// TestWebhookAddressesTheOperatorDidNotAllow: without --webhook-allow, a
// URL on loopback is refused at registration, saying why, and a webhook
// that reaches it anyway (stored before, or a name that resolves there
// now) is refused at delivery: the receiver hears nothing.
func TestWebhookAddressesTheOperatorDidNotAllow(t *testing.T) {
	e := hookServers(t, "sqlite")(func(c *Config) { c.WebhookAllow = nil })
	r := newHookReceiver(t)
	port := r.srv.URL[strings.LastIndex(r.srv.URL, ":")+1:]
	for _, u := range []string{r.srv.URL, "http://localhost:" + port + "/hooks", "http://[::1]:" + port, "http://169.254.169.254/latest/meta-data",
		"http://10.0.0.1/", "http://0.0.0.0:" + port} {
		res := e.call("POST", "/api/v0/webhooks", keyA, map[string]any{"url": u})
		if res.status != http.StatusBadRequest || res.Code != "webhook_address_denied" || !strings.Contains(res.Message, "--webhook-allow") {
			t.Errorf("register %s: %d %s", u, res.status, res.body)
		}
	}
	for _, u := range []string{"ftp://example.com/", "https://user:pw@example.com/", "/relative", "https://no-such-host.invalid/"} {
		if res := e.call("POST", "/api/v0/webhooks", keyA, map[string]any{"url": u}); res.status != http.StatusBadRequest || res.Code != "invalid_webhook_url" {
			t.Errorf("register %s: %d %s", u, res.status, res.body)
		}
	}
	hook, err := hookStore(t, e.srv).PutWebhook(context.Background(), meta.Webhook{ID: "wh_sneaked", Tenant: tenantA,
		URL: "http://localhost:" + port + "/hooks", Secret: webhook.NewSecret()})
	if err != nil {
		t.Fatal(err)
	}
	r.setSecret(hook.Secret)
	e.create(keyA, "f.txt", []byte("never delivered"))
	hookWait(t, "a refused delivery", func() bool {
		h := e.hooks(keyA)
		return len(h) == 1 && h[0].Attempts >= 1 && strings.Contains(h[0].LastError, "loopback")
	})
	if status, tr := e.hookTest(keyA, "wh_sneaked"); status != http.StatusOK || tr.Delivered || tr.Status != 0 || !strings.Contains(tr.Error, "loopback") {
		t.Errorf("test: %d %+v", status, tr)
	}
	if n := len(r.deliveries()); n != 0 {
		t.Errorf("the receiver on loopback got %d deliveries", n)
	}
	t.Logf("refused at delivery: %s", e.hooks(keyA)[0].LastError)
}

// TestSlowReceiverDoesNotSlowUploads: while a receiver holds a delivery
// without answering, uploads go as fast as ever.
func TestSlowReceiverDoesNotSlowUploads(t *testing.T) {
	hookBackends(t, func(t *testing.T, servers func(...func(*Config)) *testEnv) {
		e := servers(func(c *Config) { c.WebhookTimeout = 30 * time.Second })
		r := newHookReceiver(t)
		release := make(chan struct{})
		r.hold = release
		e.addHook(keyA, r)

		start := time.Now()
		e.settle(keyA, "baseline.txt", []byte("baseline"), nil)
		baseline := time.Since(start)
		select {
		case <-r.arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("no delivery arrived")
		}
		var took []time.Duration
		for i := range 5 {
			start := time.Now()
			e.settle(keyA, fmt.Sprintf("f%d.txt", i), fmt.Appendf(nil, "while the receiver sleeps %d", i), nil)
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		if len(r.deliveries()) != 0 {
			t.Fatal("the receiver answered while it was to hold")
		}
		t.Logf("upload: %v before the receiver slept; %v (median), %v (max) while it held a delivery", baseline, took[2], took[4])
		if took[4] > 2*time.Second {
			t.Errorf("an upload took %v while the receiver held a delivery", took[4])
		}
		r.mu.Lock()
		r.hold = nil
		close(release)
		r.mu.Unlock()
		hookWait(t, "every event, once the receiver answers", func() bool { return len(r.taken()) == 12 })
	})
}

// downHooks is a webhook store that fails every call.
type downHooks struct{ webhook.Store }

// hookStore is the server's store of webhooks.
func hookStore(t *testing.T, s *Server) webhook.Store {
	st, ok := webhook.StoreOf(s.cfg.Meta)
	if !ok {
		t.Fatal("the metadata store keeps no webhooks")
	}
	return st
}

func (downHooks) Webhooks(context.Context, string) ([]meta.Webhook, error) { return nil, errDown }
func (downHooks) PutWebhook(context.Context, meta.Webhook) (meta.Webhook, error) {
	return meta.Webhook{}, errDown
}
func (downHooks) DeleteWebhook(context.Context, string, string) error { return errDown }

// webhookAnswers produces the documented answers of the webhook routes,
// and returns what its checkers saw.
func webhookAnswers(t *testing.T) map[string]bool {
	e := newEnv(t, func(c *Config) { c.WebhookAllow, c.MaxWebhooks = loopbackOnly, 2 })
	chk := newSpecChecker(t, e.url)
	s := specCall{chk.client(), e.url}
	r := newHookReceiver(t)
	refusing := newHookReceiver(t)
	refusing.answer = func(int) int { return http.StatusTeapot }

	add := func(r *hookReceiver) string {
		var w webhookJSON
		b, _ := json.Marshal(map[string]any{"url": r.srv.URL, "events": []string{"file.uploaded"}})
		req, _ := http.NewRequest("POST", e.url+"/api/v0/webhooks", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+keyA)
		res, err := s.c.Do(req)
		if err != nil || res.StatusCode != http.StatusCreated {
			t.Fatalf("add: %v %v", res, err)
		}
		json.NewDecoder(res.Body).Decode(&w)
		res.Body.Close()
		r.setSecret(w.Secret)
		return w.ID
	}
	ok, bad := add(r), add(refusing)
	const hooks = "/api/v0/webhooks"
	s.json(t, "POST", hooks, keyA, map[string]any{"url": r.srv.URL})                                   // 409
	s.json(t, "POST", hooks, keyA, map[string]any{"url": "ftp://x"})                                   // 400
	s.json(t, "POST", hooks, keyA, map[string]any{"url": "http://169.254.169.254/"})                   // 400
	s.json(t, "POST", hooks, keyA, map[string]any{"url": r.srv.URL, "events": []string{"file.moved"}}) // 400
	s.json(t, "POST", hooks, "", map[string]any{"url": r.srv.URL})                                     // 401
	s.do(t, "POST", hooks, keyA, "application/json", bytes.Repeat([]byte(" "), maxJSONBody+1))         // 413
	s.do(t, "POST", hooks, keyA, "text/plain", []byte(`{}`))                                           // 415
	s.do(t, "GET", hooks, keyA, "", nil)                                                               // 200
	s.do(t, "GET", hooks, "", "", nil)                                                                 // 401
	s.do(t, "POST", hooks+"/"+ok+"/test", keyA, "", nil)                                               // 200, delivered
	s.do(t, "POST", hooks+"/"+bad+"/test", keyA, "", nil)                                              // 200, refused
	s.do(t, "POST", hooks+"/wh_nope/test", keyA, "", nil)                                              // 404
	s.do(t, "POST", hooks+"/"+ok+"/test", keyB, "", nil)                                               // 404: another tenant's
	s.do(t, "POST", hooks+"/"+ok+"/test", "", "", nil)                                                 // 401
	s.do(t, "DELETE", hooks+"/"+ok, "", "", nil)                                                       // 401
	s.do(t, "DELETE", hooks+"/"+ok, keyB, "", nil)                                                     // 404
	s.do(t, "DELETE", hooks+"/"+ok, keyA, "", nil)                                                     // 204
	s.do(t, "DELETE", hooks+"/"+ok, keyA, "", nil)                                                     // 404

	st, _ := webhook.StoreOf(e.srv.cfg.Meta)
	real, err := e.srv.hooks, error(nil)
	if e.srv.hooks, err = webhook.New(webhook.Config{Store: downHooks{st}, Payload: webhookPayload, Guard: webhook.Guard{Allow: loopbackOnly}}); err != nil {
		t.Fatal(err)
	}
	s.json(t, "POST", hooks, keyA, map[string]any{"url": r.srv.URL})
	s.do(t, "GET", hooks, keyA, "", nil)
	s.do(t, "DELETE", hooks+"/"+bad, keyA, "", nil)
	s.do(t, "POST", hooks+"/"+bad+"/test", keyA, "", nil)
	e.srv.hooks = real

	// Past the rate: 429.
	l := newEnv(t, func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 1 })
	lchk := newSpecChecker(t, l.url)
	ls := specCall{lchk.client(), l.url}
	ls.do(t, "GET", "/api/v0/limits", keyA, "", nil) // the burst
	for _, c := range []struct{ method, path string }{{"POST", hooks}, {"GET", hooks}, {"DELETE", hooks + "/x"}, {"POST", hooks + "/x/test"}} {
		if st := ls.do(t, c.method, c.path, keyA, "application/json", []byte(`{"url": "http://127.0.0.1/"}`)); st != http.StatusTooManyRequests {
			t.Errorf("%s %s past the rate: %d, want 429", c.method, c.path, st)
		}
	}
	for k := range lchk.seen {
		chk.seen[k] = true
	}
	return chk.seen
}

// TestWebhookTestEndpoint: the test event is signed like any delivery,
// of type webhook.test, and the answer says what the receiver answered.
func TestWebhookTestEndpoint(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WebhookAllow = loopbackOnly })
	r := newHookReceiver(t)
	id := e.addHook(keyA, r)
	status, tr := e.hookTest(keyA, id)
	ds := r.deliveries()
	if status != http.StatusOK || !tr.Delivered || tr.Status != http.StatusNoContent || len(ds) != 1 || ds[0].Type != EventTest ||
		ds[0].ID != tr.ID || !strings.Contains(string(ds[0].Data), id) {
		t.Fatalf("test: %d %+v; the receiver got %+v", status, tr, ds)
	}
	r.mu.Lock()
	r.answer = func(int) int { return http.StatusGone }
	r.mu.Unlock()
	if _, tr = e.hookTest(keyA, id); tr.Delivered || tr.Status != http.StatusGone || !strings.Contains(tr.Error, "410") {
		t.Errorf("test to a receiver answering 410: %+v", tr)
	}
	if h := e.hooks(keyA)[0]; h.Cursor != 0 || h.Attempts != 0 || h.Secret != "" {
		t.Errorf("after tests, the webhook is %+v: a test is not in its outbox, and the list shows no secret", h)
	}
}
