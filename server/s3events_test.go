package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/store/blob"
	s3blob "github.com/perseus-go/perseus/store/blob/s3"
	"github.com/perseus-go/perseus/store/meta/postgres"
)

const eventsToken = "s3-events-token-of-the-tests"

// notified takes S3 event notifications and leaves the listing of direct
// uploads to come by once an hour, long after any test has ended.
func notified(c *Config) { c.S3EventsToken = eventsToken; c.VerifyInterval = time.Hour }

// newNotifiedEnv is newS3Env with notified, once the listing's round at
// start (an empty staging area) is over: the next is an hour away.
func newNotifiedEnv(t *testing.T) *s3Env {
	e := newS3Env(t, notified)
	time.Sleep(500 * time.Millisecond)
	return e
}

// putDirect PUTs content to a presigned URL of the store, as a client does.
func putDirect(t *testing.T, uploadURL string, content []byte) {
	t.Helper()
	req, _ := http.NewRequest("PUT", uploadURL, bytes.NewReader(content))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the presigned URL: %d %s", res.StatusCode, body)
	}
}

// eventBody is an S3 event notification of one record, as versitygw sends
// it (eventName with "s3:"), the key URL-encoded as AWS does.
func eventBody(name, bucket, key string) string {
	b, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.2", "eventSource": "aws:s3", "eventName": name,
		"s3": map[string]any{"bucket": map[string]any{"name": bucket},
			"object": map[string]any{"key": url.QueryEscape(key), "size": 1, "eTag": `"x"`}},
	}}})
	return string(b)
}

// eventsAnswer is what POST /api/v0/s3/events answered.
type eventsAnswer struct {
	apiResp
	s3EventsResponse
}

// postEvents sends body to the events endpoint, with query (the token)
// and headers, and checks what every answer must be (testEnv.send).
func (e *testEnv) postEvents(query, body string, hdr ...string) eventsAnswer {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/api/v0/s3/events"+query, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	a := eventsAnswer{apiResp: e.send(req)}
	json.Unmarshal(a.body, &a.s3EventsResponse)
	return a
}

// stagedKey returns the one object staged in e's store, and its full key
// in the bucket.
func (e *s3Env) stagedKey() (key, object string) {
	e.t.Helper()
	var keys []string
	e.store.List(context.Background(), "staging/", func(i blob.Info) error { keys = append(keys, i.Key); return nil })
	if len(keys) != 1 {
		e.t.Fatalf("staged: %v, want one object", keys)
	}
	u, _ := url.Parse(e.s3url)
	return keys[0], strings.Trim(u.Query().Get("prefix"), "/") + "/" + keys[0]
}

// TestS3NotificationVerifiesAtOnce: versitygw, with its webhook
// notifications on (scripts/lib/s3.sh), tells the server of a presigned
// PUT through the test relay, and the file is uploaded within moments,
// though the listing would not come by for an hour.
func TestS3NotificationVerifiesAtOnce(t *testing.T) {
	e := newNotifiedEnv(t)
	testenv.S3Events(t, e.s3url, e.url+"/api/v0/s3/events?token="+eventsToken)
	for _, size := range []int{1, 3<<20 + 5} {
		content := randomBytes(size)
		c := e.pendingFile(content)
		start := time.Now()
		putDirect(t, c.UploadURL, content)
		g := e.call("GET", "/api/v0/file/"+c.Rec.ID+"?wait=10s", keyA, nil)
		took := time.Since(start)
		if g.Status != "uploaded" {
			t.Fatalf("%d bytes: %s %s after %v; want uploaded", size, g.Status, g.body, took)
		}
		if took > 2*time.Second {
			t.Errorf("%d bytes: uploaded %v after the PUT; want it within 2s", size, took)
		}
		t.Logf("%d bytes: uploaded %v after the PUT (the listing: every hour)", size, took)
		waitFor(t, func() bool { return len(e.objects()) == 1 }) // the staged copy goes once the record is settled
		e.wantOnlyContent(c.Rec.ID, content)
		e.call("DELETE", "/api/v0/file/"+c.Rec.ID, keyA, nil)
		waitFor(t, func() bool { return len(e.objects()) == 0 })
	}
}

// waitFor waits up to 5s for ok.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// TestS3EventsEndpoint: notifications posted by hand (no relay: nothing
// else tells the server) are taken with the token only; what is not the
// creation of a direct upload to the server's store is ignored; a body
// that is no notification is refused with a message.
func TestS3EventsEndpoint(t *testing.T) {
	e := newNotifiedEnv(t)
	content := []byte("told of by hand")
	c := e.pendingFile(content)
	putDirect(t, c.UploadURL, content)
	key, object := e.stagedKey()
	u, _ := url.Parse(e.s3url)
	bucket := u.Host
	created := eventBody("s3:ObjectCreated:Put", bucket, object)

	time.Sleep(300 * time.Millisecond)
	if s := e.status(c.Rec.ID).Status; s != "pending" {
		t.Fatalf("before any notification the file is %s; want pending (the listing comes by hourly)", s)
	}

	// Refused without the token, or with another.
	for _, r := range []struct {
		query string
		hdr   []string
	}{
		{"", nil},
		{"?token=wrong-token-of-enough-bytes", nil},
		{"?token=" + eventsToken[:len(eventsToken)-1], nil},
		{"", []string{"Authorization", "Bearer " + keyA}}, // an API key is no token
		{"?token=", []string{"Authorization", "Basic " + basic("u", "wrong")}},
	} {
		if a := e.postEvents(r.query, created, r.hdr...); a.status != http.StatusUnauthorized || a.Code != "unauthorized" {
			t.Errorf("token %q %v: %d %s; want 401", r.query, r.hdr, a.status, a.body)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if s := e.status(c.Rec.ID).Status; s != "pending" {
		t.Fatalf("after refused notifications the file is %s; want pending", s)
	}

	// Malformed: 400 with a message.
	for _, body := range []string{`{"Records": [`, `[1, 2]`, `{"Records": {"eventName": "x"}}`, `{"Records": [{"s3": {"object": {"key": 5}}}]}`, ``} {
		a := e.postEvents("?token="+eventsToken, body)
		if a.status != http.StatusBadRequest || a.Code != "bad_request" || !strings.Contains(a.Message, "Records") {
			t.Errorf("body %q: %d %s; want 400 bad_request with a message", body, a.status, a.body)
		}
	}

	// Ignored: another bucket, outside the store's prefix, not a staging
	// key, not a creation; and a test event, which has no records.
	for _, body := range []string{
		eventBody("s3:ObjectCreated:Put", "another-bucket", object),
		eventBody("s3:ObjectCreated:Put", bucket, key),
		eventBody("s3:ObjectCreated:Put", bucket, strings.Replace(object, "/staging/", "/files/", 1)),
		eventBody("s3:ObjectCreated:Put", bucket, object+"/deeper"),
		eventBody("s3:ObjectRemoved:Delete", bucket, object),
		eventBody("s3:ObjectCreated:Put", bucket, ""),
	} {
		a := e.postEvents("?token="+eventsToken, body)
		if a.status != http.StatusAccepted || a.Ignored != 1 || a.Verifying != 0 {
			t.Errorf("%s: %d %s; want 202 with the record ignored", body, a.status, a.body)
		}
	}
	if a := e.postEvents("?token="+eventsToken, `{"Service":"S3","Event":"s3:TestEvent","Time":"2026-01-01T00:00:00Z","Bucket":"Test-Bucket"}`); a.status != http.StatusAccepted || a.s3EventsResponse != (s3EventsResponse{}) {
		t.Errorf("test event: %d %s; want 202 with nothing done", a.status, a.body)
	}
	time.Sleep(300 * time.Millisecond)
	if s := e.status(c.Rec.ID).Status; s != "pending" {
		t.Fatalf("after ignored notifications the file is %s; want pending", s)
	}

	// The token as a bearer token, and AWS's event name without "s3:".
	a := e.postEvents("", eventBody("ObjectCreated:Put", bucket, object), "Authorization", "Bearer "+eventsToken)
	if a.status != http.StatusAccepted || a.Verifying != 1 {
		t.Fatalf("notification: %d %s; want 202 verifying 1", a.status, a.body)
	}
	if g := e.call("GET", "/api/v0/file/"+c.Rec.ID+"?wait=10s", keyA, nil); g.Status != "uploaded" {
		t.Fatalf("after the notification the file is %s %s; want uploaded", g.Status, g.body)
	}
	waitFor(t, func() bool { return len(e.objects()) == 1 })
	e.wantOnlyContent(c.Rec.ID, content)
	// Told again (a sender's retry): nothing is there any more.
	if a := e.postEvents("?token="+eventsToken, created); a.status != http.StatusAccepted || a.Verifying != 1 {
		t.Fatalf("notification again: %d %s", a.status, a.body)
	}
	time.Sleep(200 * time.Millisecond)
	e.wantOnlyContent(c.Rec.ID, content)
}

func basic(user, password string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, password)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// located makes a local store name the objects of a bucket "b" by their
// key, so that the endpoint can be served without S3.
type located struct{ assemblingStore }

func (located) KeyOf(bucket, object string) (string, bool) { return object, bucket == "b" }

func TestS3EventsConfig(t *testing.T) {
	e := newEnv(t)
	if a := e.postEvents("?token="+eventsToken, eventBody("s3:ObjectCreated:Put", "b", "staging/t/i/n")); a.status != http.StatusNotFound || a.Code != "s3_events_off" {
		t.Errorf("without a token configured: %d %s; want 404 s3_events_off", a.status, a.body)
	}
	for _, tc := range []struct {
		cfg  func(*Config)
		want string
	}{
		{func(c *Config) { c.S3EventsToken = "short" }, "at least 16 bytes"},
		{func(c *Config) { c.S3EventsToken = eventsToken }, "not an S3 store"},
	} {
		cfg := Config{Meta: e.meta, Blobs: e.blobs, SigningKey: testSigningKey}
		tc.cfg(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v; want an error saying %q", err, tc.want)
		}
	}
	l := newEnv(t, func(c *Config) { c.Blobs = located{c.Blobs.(assemblingStore)}; c.S3EventsToken = eventsToken })
	if a := l.postEvents("?token="+eventsToken, eventBody("s3:ObjectCreated:Put", "b", "staging/t/i/n")); a.status != http.StatusAccepted || a.Verifying != 1 {
		t.Errorf("a store that names notified objects: %d %s; want 202 verifying 1", a.status, a.body)
	}
	if a := l.postEvents("?token="+eventsToken, strings.Repeat(" ", maxJSONBody+1)); a.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a huge body: %d %s; want 413", a.status, a.body)
	}
}

// s3EventsAnswers produces every documented answer of POST
// /api/v0/s3/events, held to the document.
func s3EventsAnswers(t *testing.T) map[string]bool {
	off := newEnv(t)
	chk := newSpecChecker(t, off.url)
	s := specCall{chk.client(), off.url}
	ev := []byte(eventBody("s3:ObjectCreated:Put", "b", "staging/t/i/n"))
	s.do(t, "POST", "/api/v0/s3/events?token="+eventsToken, "", "application/json", ev) // 404
	e := newEnv(t, func(c *Config) { c.Blobs = located{c.Blobs.(assemblingStore)}; c.S3EventsToken = eventsToken })
	chk2 := newSpecChecker(t, e.url)
	s = specCall{chk2.client(), e.url}
	s.do(t, "POST", "/api/v0/s3/events?token="+eventsToken, "", "application/json; charset=utf-8", ev)        // 202
	s.do(t, "POST", "/api/v0/s3/events", eventsToken, "application/json", ev)                                 // 202, bearer
	s.do(t, "POST", "/api/v0/s3/events?token=nope", "", "application/json", ev)                               // 401
	s.do(t, "POST", "/api/v0/s3/events?token="+eventsToken, "", "application/json", []byte(`{"Records": 1}`)) // 400
	s.do(t, "POST", "/api/v0/s3/events?token="+eventsToken, "", "", bytes.Repeat([]byte(" "), maxJSONBody+1)) // 413
	for k := range chk2.seen {
		chk.seen[k] = true
	}
	return chk.seen
}

// listWindow is how long TestS3ListingLoad counts LIST requests: go test
// ./server -run TestS3ListingLoad -v -args -list-window=1m for a minute.
var listWindow = flag.Duration("list-window", 2*time.Second, "how long TestS3ListingLoad counts LIST requests")

// listReplica is one server of a fleet over one PostgreSQL schema and one
// S3 prefix, reaching S3 through a proxy of its own that counts its LISTs
// of the staging area.
type listReplica struct {
	url   string
	lists atomic.Int64
	stop  func()
}

func startListReplicas(t *testing.T, n int, tweak func(*Config)) []*listReplica {
	t.Helper()
	ctx := context.Background()
	base, err := url.Parse(testenv.S3URL(t, "listing"))
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(base.Query().Get("endpoint"))
	pgURL := testenv.PostgresSchemaURL(t)
	var reps []*listReplica
	for range n {
		r := &listReplica{}
		proxy := &httputil.ReverseProxy{Rewrite: func(p *httputil.ProxyRequest) {
			p.SetURL(target)
			p.Out.Host = p.In.Host // signed by the SDK for the proxy's host
		}}
		ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if q := req.URL.Query(); req.Method == "GET" && q.Get("list-type") == "2" && strings.HasSuffix(q.Get("prefix"), "/staging/") {
				r.lists.Add(1)
			}
			proxy.ServeHTTP(w, req)
		}))
		t.Cleanup(ps.Close)
		q := base.Query()
		q.Set("endpoint", ps.URL)
		u := *base
		u.RawQuery = q.Encode()
		bs, err := s3blob.Open(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		db, err := postgres.Open(ctx, pgURL)
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{Meta: db, Blobs: bs, SigningKey: testSigningKey,
			StaticKeys: map[string]string{keyA: tenantA}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		tweak(&cfg)
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { srv.Run(runCtx); close(done) }()
		r.url = ts.URL
		r.stop = sync1(func() { cancel(); <-done; ts.Close(); db.Close() })
		t.Cleanup(r.stop)
		reps = append(reps, r)
	}
	return reps
}

// sync1 returns fn made to run once however often it is called.
func sync1(fn func()) func() {
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			fn()
		}
	}
}

// listers returns the replicas that listed since their counts were
// reset, and resets them.
func listers(reps []*listReplica) (who []int, total int64) {
	for i, r := range reps {
		if n := r.lists.Swap(0); n > 0 {
			who = append(who, i)
			total += n
		}
	}
	return who, total
}

// TestS3ListingIsLeased: with notifications on, one replica of three
// lists the staging area, however short the interval; when it stops,
// another takes over, and still only one lists.
func TestS3ListingIsLeased(t *testing.T) {
	reps := startListReplicas(t, 3, func(c *Config) { c.S3EventsToken = eventsToken; c.VerifyInterval = 50 * time.Millisecond })
	// Every replica's sweep at start lists the staging area too: past them.
	waitFor(t, func() bool {
		for _, r := range reps {
			if r.lists.Load() == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(100 * time.Millisecond)
	listers(reps)
	time.Sleep(time.Second)
	who, n := listers(reps)
	if len(who) != 1 || n < 5 {
		t.Fatalf("replicas %v listed %d times in 1s; want one replica, about 20 times", who, n)
	}
	leader := who[0]
	t.Logf("replica %d holds the lease: %d LISTs in 1s", leader, n)
	reps[leader].stop()
	listers(reps) // the LISTs the leader had in flight when it was told to stop
	start := time.Now()
	for {
		who, _ = listers(reps)
		if len(who) > 0 {
			break
		}
		if time.Since(start) > leaseRetryForTest+3*time.Second {
			t.Fatal("no replica took over the listing")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(who) != 1 || who[0] == leader {
		t.Fatalf("after replica %d stopped, replicas %v listed; want one other", leader, who)
	}
	t.Logf("replica %d took over %v after replica %d stopped", who[0], time.Since(start).Round(time.Millisecond), leader)
	time.Sleep(time.Second)
	if who2, n := listers(reps); len(who2) != 1 || who2[0] != who[0] {
		t.Fatalf("then replicas %v listed %d times; want replica %d alone", who2, n, who[0])
	}
}

// leaseRetryForTest is the ingest core's leaseRetry: how long a standby
// waits between tries of the lease.
const leaseRetryForTest = 5 * time.Second

// TestS3ListingLoad counts the LIST requests a fleet makes of the staging
// area in -list-window, before (no notifications: every replica lists
// every 200ms) and after (notifications: one replica lists, every
// minute). Each replica's sweep at start lists it once too, in both.
func TestS3ListingLoad(t *testing.T) {
	for _, n := range []int{1, 3} {
		for _, mode := range []struct {
			name  string
			tweak func(*Config)
		}{
			{"listing every 200ms on every replica", func(*Config) {}},
			{"notifications, listing every 1m on one replica", func(c *Config) { c.S3EventsToken = eventsToken }},
		} {
			t.Run(fmt.Sprintf("%d replicas, %s", n, mode.name), func(t *testing.T) {
				reps := startListReplicas(t, n, mode.tweak)
				time.Sleep(*listWindow)
				for _, r := range reps {
					r.stop()
				}
				_, total := listers(reps)
				t.Logf("%d replicas, %s: %d LISTs of the staging area in %v: %d by the listing, %d by the sweeps at start (one a replica, then every 10m)",
					n, mode.name, total, *listWindow, total-int64(n), n)
				if mode.name[0] == 'n' && total > int64(n)+int64(*listWindow/time.Minute)+1 {
					t.Errorf("with notifications, %d LISTs in %v; want the sweeps' %d and one a minute", total, *listWindow, n)
				}
				if mode.name[0] == 'l' && total < int64(n)*int64(*listWindow/(200*time.Millisecond))/2 {
					t.Errorf("without notifications, only %d LISTs in %v", total, *listWindow)
				}
			})
		}
	}
}
