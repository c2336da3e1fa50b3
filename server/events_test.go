package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/postgres"
)

// The event log of the store under test, failing while it is down.
func (f *faultyMeta) eventLog() meta.EventLog {
	l, ok := f.Store.(meta.EventLog)
	if !ok {
		panic(fmt.Sprintf("%T keeps no event log", f.Store))
	}
	return l
}

func (f *faultyMeta) Events(ctx context.Context, tenant string, q meta.EventQuery) ([]meta.Event, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.eventLog().Events(ctx, tenant, q)
}

func (f *faultyMeta) LastEvent(ctx context.Context, tenant string) (int64, error) {
	if err := f.fail(); err != nil {
		return 0, err
	}
	return f.eventLog().LastEvent(ctx, tenant)
}

func (f *faultyMeta) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	return f.eventLog().PruneEvents(ctx, before)
}

func (f *faultyMeta) WatchEvents(ctx context.Context, fn func(string, int64)) error {
	return f.eventLog().WatchEvents(ctx, fn)
}

// run runs the server's background work (among it the watch of the event
// log that wakes streams) until the test ends, and waits until the watch
// is under way: until an event of a tenant of its own wakes the core.
// (Events that commit before, as the store says, are not told of.)
func (e *testEnv) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.srv.Run(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
	sub := e.srv.core.SubscribeEvents("warm-up")
	defer sub.Close()
	for i := 0; ; i++ {
		if _, _, err := e.srv.core.Create(ctx, "warm-up", "w.txt", hashOf([]byte(strconv.Itoa(i)))); err != nil {
			e.t.Fatal(err)
		}
		select {
		case <-sub.C:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if i == 100 {
			e.t.Fatal("the core's watch of the event log told of no event in 10s")
		}
	}
}

// sseFrame is one event of a stream as the wire carries it, its data
// decoded.
type sseFrame struct {
	id, event string
	data      json.RawMessage
	ev        Event
}

// sseStream is an open GET /api/v0/events, read line by line.
type sseStream struct {
	t        testing.TB
	res      *http.Response
	frames   chan sseFrame
	comments chan string
	ended    chan error // the body's end (nil at EOF)
	cancel   context.CancelFunc
}

// events opens a stream of key's events with the query q and header
// fields hdr, and checks that it is one.
func (e *testEnv) events(key, q string, hdr ...string) *sseStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v0/events?"+q, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" || res.Header.Get("Cache-Control") != "no-store" {
		body, _ := io.ReadAll(res.Body)
		e.t.Fatalf("GET /api/v0/events?%s: %d %s %q", q, res.StatusCode, res.Header, body)
	}
	s := &sseStream{t: e.t, res: res, frames: make(chan sseFrame, 1000), comments: make(chan string, 1000), ended: make(chan error, 1), cancel: cancel}
	go s.read()
	e.t.Cleanup(s.close)
	return s
}

// read parses the stream as the server writes it: each event exactly
// "id:", "event:", "data:" lines and a blank line; comments alone.
func (s *sseStream) read() {
	sc := bufio.NewScanner(s.res.Body)
	sc.Buffer(nil, 1<<20)
	var lines []string
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "" && len(lines) == 0:
			s.ended <- errors.New("a blank line outside an event")
			return
		case l == "":
			f, err := parseFrame(lines)
			if err != nil {
				s.ended <- err
				return
			}
			s.frames <- f
			lines = nil
		case strings.HasPrefix(l, ":"):
			if len(lines) > 0 {
				s.ended <- fmt.Errorf("a comment inside an event: %q", l)
				return
			}
			s.comments <- l
			if !sc.Scan() || sc.Text() != "" {
				s.ended <- fmt.Errorf("comment %q not followed by a blank line", l)
				return
			}
		default:
			lines = append(lines, l)
		}
	}
	if len(lines) > 0 {
		s.ended <- fmt.Errorf("the stream ended inside an event: %q", lines)
		return
	}
	s.ended <- sc.Err()
}

// parseFrame checks one event's lines and decodes its data.
func parseFrame(lines []string) (sseFrame, error) {
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "id: ") || !strings.HasPrefix(lines[1], "event: ") || !strings.HasPrefix(lines[2], "data: ") {
		return sseFrame{}, fmt.Errorf("an event is not id:, event:, data: lines: %q", lines)
	}
	f := sseFrame{id: lines[0][4:], event: lines[1][7:], data: json.RawMessage(lines[2][6:])}
	if err := json.Unmarshal(f.data, &f.ev); err != nil {
		return f, fmt.Errorf("data %s: %v", f.data, err)
	}
	if f.ev.ID != f.id || f.ev.Type != f.event || !createdAtShape.MatchString(f.ev.Timestamp) {
		return f, fmt.Errorf("data %s does not match id %s and event %s", f.data, f.id, f.event)
	}
	return f, nil
}

// next returns the next event, failing the test if none comes within d.
func (s *sseStream) next(d time.Duration) sseFrame {
	s.t.Helper()
	select {
	case f := <-s.frames:
		return f
	case err := <-s.ended:
		s.t.Fatalf("the stream ended (%v) before the next event", err)
	case <-time.After(d):
		s.t.Fatalf("no event within %v", d)
	}
	return sseFrame{}
}

// none checks that no event comes within d.
func (s *sseStream) none(d time.Duration) {
	s.t.Helper()
	select {
	case f := <-s.frames:
		s.t.Fatalf("an event came: %s %s %s", f.id, f.event, f.data)
	case err := <-s.ended:
		s.t.Fatalf("the stream ended: %v", err)
	case <-time.After(d):
	}
}

// end waits for the stream's end, returning the events before it.
func (s *sseStream) end(d time.Duration) []sseFrame {
	s.t.Helper()
	var out []sseFrame
	timeout := time.After(d)
	for {
		select {
		case f := <-s.frames:
			out = append(out, f)
		case err := <-s.ended:
			if err != nil {
				s.t.Fatalf("the stream ended with %v", err)
			}
			for {
				select {
				case f := <-s.frames:
					out = append(out, f)
				default:
					return out
				}
			}
		case <-timeout:
			s.t.Fatalf("the stream did not end within %v", d)
		}
	}
}

func (s *sseStream) close() {
	s.cancel()
	s.res.Body.Close()
}

// backlog returns key's events as a stream with follow=false sends them.
func (e *testEnv) backlog(key, q string, hdr ...string) []sseFrame {
	e.t.Helper()
	return e.events(key, "follow=false&"+q, hdr...).end(10 * time.Second)
}

func ids(fs []sseFrame) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.id+" "+f.event)
	}
	return strings.Join(out, ", ")
}

// wantEvent checks that f is the event of type typ about the file as GET
// /api/v0/file/{id} answers it (want: that answer's body, or the file).
func wantEvent(t *testing.T, f sseFrame, id int, typ meta.EventType, file []byte) {
	t.Helper()
	if f.id != strconv.Itoa(id) || f.event != string(typ) {
		t.Errorf("event %s %s, want %d %s", f.id, f.event, id, typ)
	}
	var data struct {
		Data json.RawMessage `json:"data"`
	}
	json.Unmarshal(f.data, &data)
	if !bytes.Equal(data.Data, bytes.TrimSpace(file)) {
		t.Errorf("event %s %s: data\n%s\nwant the file as GET answers it:\n%s", f.id, f.event, data.Data, file)
	}
}

// TestEventsStreamEachChangeAsItHappens: a stream held open gets, at once
// and in order, the event of each change of the tenant's files (created,
// uploaded, failed, deleted), its data the file exactly as GET answers it;
// another tenant's stream gets none of them, and its own ids start at 1.
func TestEventsStreamEachChangeAsItHappens(t *testing.T) {
	old := eventPoll
	eventPoll = time.Minute // only the watch of the log can wake a stream in time
	t.Cleanup(func() { eventPoll = old })
	metaBackends(t, func(t *testing.T, e *testEnv) {
		e.run()
		a, b := e.events(keyA, ""), e.events(keyB, "")
		const soon = 5 * time.Second

		content := []byte("an event's content")
		c := e.create(keyA, "e.txt", content)
		id := c.Rec.ID
		created := a.next(soon)
		pending := e.call("GET", "/api/v0/file/"+id, keyA, nil).body
		wantEvent(t, created, 1, meta.EventCreated, pending)
		e.put(c.UploadURL, content)
		uploaded := a.next(soon)
		got := e.call("GET", "/api/v0/file/"+id, keyA, nil).body
		wantEvent(t, uploaded, 2, meta.EventUploaded, got)

		bad := e.create(keyA, "bad.txt", []byte("declared"))
		e.put(bad.UploadURL, []byte("something else"))
		wantEvent(t, a.next(soon), 3, meta.EventCreated, mustJSON(t, *bad.Rec))
		failed := a.next(soon)
		wantEvent(t, failed, 4, meta.EventFailed, e.call("GET", "/api/v0/file/"+bad.Rec.ID, keyA, nil).body)
		if failed.ev.Data.Status != "failed" || failed.ev.Data.Reason == "" {
			t.Errorf("failed event: %s", failed.data)
		}

		e.call("DELETE", "/api/v0/file/"+id, keyA, nil)
		wantEvent(t, a.next(soon), 5, meta.EventDeleted, got) // the file as it was

		b.none(200 * time.Millisecond)
		e.upload(keyB, "b.txt", []byte("tenant b's"))
		if f := b.next(soon); f.id != "1" || f.event != string(meta.EventCreated) {
			t.Errorf("tenant b's first event: %s %s", f.id, f.event)
		}
		if f := b.next(soon); f.id != "2" || f.event != string(meta.EventUploaded) {
			t.Errorf("tenant b's second event: %s %s", f.id, f.event)
		}
		a.none(200 * time.Millisecond)
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEventsResumeFilterAndPage: since and Last-Event-ID (which wins)
// resume after an id, types filters, follow=false ends after the backlog,
// and a stream resumed after the last event gets the next one and none
// twice; Accept: application/json answers pages.
func TestEventsResumeFilterAndPage(t *testing.T) {
	e := newEnv(t)
	e.run()
	for i := range 3 {
		e.upload(keyA, fmt.Sprintf("f%d.txt", i), []byte(fmt.Sprintf("content %d", i)))
	}
	all := e.backlog(keyA, "")
	if got := ids(all); got != "1 file.created, 2 file.uploaded, 3 file.created, 4 file.uploaded, 5 file.created, 6 file.uploaded" {
		t.Fatalf("backlog: %s", got)
	}
	for _, tt := range []struct {
		q    string
		hdr  []string
		want string
	}{
		{"since=2", nil, "3 file.created, 4 file.uploaded, 5 file.created, 6 file.uploaded"},
		{"since=1", []string{"Last-Event-ID", "4"}, "5 file.created, 6 file.uploaded"},
		{"", []string{"Last-Event-ID", "6"}, ""},
		{"since=99", nil, ""},
		{"types=file.uploaded", nil, "2 file.uploaded, 4 file.uploaded, 6 file.uploaded"},
		{"types=file.uploaded,file.created&since=4", nil, "5 file.created, 6 file.uploaded"},
		{"types=file.created&types=file.deleted", nil, "1 file.created, 3 file.created, 5 file.created"},
		{"types=file.deleted", nil, ""},
	} {
		if got := ids(e.backlog(keyA, tt.q, tt.hdr...)); got != tt.want {
			t.Errorf("?%s %v: %s, want %s", tt.q, tt.hdr, got, tt.want)
		}
	}
	if got := ids(e.backlog(keyB, "")); got != "" {
		t.Errorf("tenant b's backlog: %s", got)
	}

	// A stream resumed after the last event gets the next, and nothing twice.
	s := e.events(keyA, "", "Last-Event-ID", "6")
	s.none(100 * time.Millisecond)
	f := e.upload(keyA, "next.txt", []byte("next"))
	if got := s.next(5 * time.Second); got.id != "7" || got.ev.Data.ID != f.ID {
		t.Errorf("resumed stream: %s %s", got.id, got.data)
	}
	s.next(5 * time.Second)
	s.none(100 * time.Millisecond)

	// Pages of JSON.
	page := func(q string) eventsPage {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+"/api/v0/events?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+keyA)
		req.Header.Set("Accept", "application/json")
		r := e.send(req)
		var p eventsPage
		if r.status != http.StatusOK || json.Unmarshal(r.body, &p) != nil {
			t.Fatalf("JSON page ?%s: %d %s", q, r.status, r.body)
		}
		return p
	}
	p := page("limit=3")
	if len(p.Events) != 3 || p.Events[0].ID != "1" || p.Last != 3 || !p.More {
		t.Errorf("first page: %+v", p)
	}
	if !bytes.Contains(mustJSON(t, p.Events[1]), mustJSON(t, all[1].ev)) {
		t.Errorf("page event %+v, stream event %s", p.Events[1], all[1].data)
	}
	p = page("limit=3&since=3")
	if len(p.Events) != 3 || p.Events[0].ID != "4" || p.Last != 6 || !p.More {
		t.Errorf("second page: %+v", p)
	}
	p = page("since=6")
	if len(p.Events) != 2 || p.Last != 8 || p.More {
		t.Errorf("last page: %+v", p)
	}
	p = page("types=file.deleted")
	if len(p.Events) != 0 || p.Last != 8 || p.More {
		t.Errorf("a filter that takes nothing: %+v, want last 8 (the latest id) so that the next page starts there", p)
	}
	if p = page("since=8"); len(p.Events) != 0 || p.Last != 8 || p.More {
		t.Errorf("nothing new: %+v", p)
	}
	if b, _ := json.Marshal(page("types=file.deleted")); !bytes.Contains(b, []byte(`"events":[]`)) {
		t.Errorf("an empty page: %s, want events: []", b)
	}

	// since=latest: where the log stands, in one request, and a stream of
	// what comes after it only.
	if p = page("since=latest"); len(p.Events) != 0 || p.Last != 8 || p.More {
		t.Errorf("since=latest as JSON: %+v, want an empty page whose last is 8", p)
	}
	if got := ids(e.backlog(keyA, "since=latest")); got != "" {
		t.Errorf("backlog since=latest: %s, want none", got)
	}
	s = e.events(keyA, "since=latest")
	s.none(100 * time.Millisecond)
	f = e.upload(keyA, "after-latest.txt", []byte("after latest"))
	if got := s.next(5 * time.Second); got.id != "9" || got.ev.Data.ID != f.ID {
		t.Errorf("stream since=latest: %s %s, want 9 first", got.id, got.data)
	}
}

// TestEventsBadRequests: what cannot be understood is a 400 that says
// what is valid.
func TestEventsBadRequests(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		q, lastID, code string
	}{
		{"types=file.upload", "", "invalid_event_type"},
		{"types=file.uploaded,created", "", "invalid_event_type"},
		{"since=-1", "", "invalid_since"},
		{"since=x", "", "invalid_since"},
		{"since=1", "1.5", "invalid_since"},
		{"", "latest", "invalid_since"}, // latest is for since only: a Last-Event-ID is an id
		{"follow=maybe", "", "bad_request"},
		{"limit=0", "", "invalid_limit"},
		{"limit=1001", "", "invalid_limit"},
	} {
		req, _ := http.NewRequest("GET", e.url+"/api/v0/events?"+tt.q, nil)
		req.Header.Set("Authorization", "Bearer "+keyA)
		if tt.lastID != "" {
			req.Header.Set("Last-Event-ID", tt.lastID)
		}
		r := e.send(req)
		if r.status != http.StatusBadRequest || r.Code != tt.code {
			t.Errorf("?%s Last-Event-ID %q: %d %s, want 400 %s", tt.q, tt.lastID, r.status, r.body, tt.code)
		}
		if tt.code == "invalid_event_type" {
			for _, typ := range meta.EventTypes {
				if !strings.Contains(r.Message, string(typ)) {
					t.Errorf("?%s: the message %q does not list %s", tt.q, r.Message, typ)
				}
			}
		}
	}
	if r := e.call("GET", "/api/v0/events", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("no key: %d %s", r.status, r.body)
	}
}

// TestEventsStreamLivesOnWithHeartbeats: a stream with nothing to send
// sends a heartbeat comment every EventHeartbeat, lives past the server's
// idle limit of request bodies (whose read deadline would otherwise end
// it), and still gets the next event.
func TestEventsStreamLivesOnWithHeartbeats(t *testing.T) {
	old := bodyIdleTimeout
	bodyIdleTimeout = 200 * time.Millisecond
	t.Cleanup(func() { bodyIdleTimeout = old })
	e := newEnv(t, func(c *Config) { c.EventHeartbeat = 50 * time.Millisecond })
	e.run()
	s := e.events(keyA, "")
	start := time.Now()
	for n := 0; n < 3 || time.Since(start) < 3*bodyIdleTimeout; n++ {
		select {
		case c := <-s.comments:
			if c != ": heartbeat" {
				t.Fatalf("comment %q", c)
			}
		case err := <-s.ended:
			t.Fatalf("the stream ended after %v: %v", time.Since(start), err)
		case <-time.After(time.Second):
			t.Fatal("no heartbeat within 1s")
		}
	}
	bodyIdleTimeout = old // for the upload's requests, which a loaded machine may slow past 200ms
	e.upload(keyA, "late.txt", []byte("late"))
	if f := s.next(5 * time.Second); f.id != "1" {
		t.Errorf("event after %v of heartbeats: %s", time.Since(start), f.id)
	}
}

// TestEventsStreamsEndOnDrain: a server shutting down ends its streams
// (their clients resume elsewhere), and one opened after sends its backlog
// and ends.
func TestEventsStreamsEndOnDrain(t *testing.T) {
	e := newEnv(t)
	e.run()
	e.upload(keyA, "x.txt", []byte("x"))
	s := e.events(keyA, "")
	if got := ids([]sseFrame{s.next(5 * time.Second), s.next(5 * time.Second)}); got != "1 file.created, 2 file.uploaded" {
		t.Errorf("backlog: %s", got)
	}
	e.srv.Drain()
	if rest := s.end(5 * time.Second); len(rest) != 0 {
		t.Errorf("after the drain: %s", ids(rest))
	}
	if got := ids(e.events(keyA, "since=1").end(5 * time.Second)); got != "2 file.uploaded" {
		t.Errorf("a stream opened after the drain: %s", got)
	}
}

// TestEventsPrunedAfterRetention: the sweeper prunes events older than
// EventRetention; ids go on from the last one.
func TestEventsPrunedAfterRetention(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.EventRetention = time.Millisecond })
	e.upload(keyA, "old.txt", []byte("old"))
	time.Sleep(20 * time.Millisecond)
	rep, err := e.srv.core.Sweep(context.Background())
	if err != nil || rep.PrunedEvents != 2 {
		t.Fatalf("sweep: %+v %v, want 2 events pruned", rep, err)
	}
	if got := ids(e.backlog(keyA, "")); got != "" {
		t.Errorf("after the sweep: %s", got)
	}
	e.upload(keyA, "new.txt", []byte("new"))
	if got := ids(e.backlog(keyA, "")); got != "3 file.created, 4 file.uploaded" {
		t.Errorf("after a new upload: %s", got)
	}
	// The default keeps them a week.
	d := newEnv(t)
	d.upload(keyA, "kept.txt", []byte("kept"))
	if rep, err := d.srv.core.Sweep(context.Background()); err != nil || rep.PrunedEvents != 0 {
		t.Errorf("sweep under the default retention: %+v %v", rep, err)
	}
}

// TestEventsReachAStreamOnAnotherReplica: two servers share PostgreSQL
// (and a blob directory); a stream held on b gets the events of an upload
// to a at once, through the store's notices alone (the safety poll is set
// beyond the test).
func TestEventsReachAStreamOnAnotherReplica(t *testing.T) {
	old := eventPoll
	eventPoll = time.Minute
	t.Cleanup(func() { eventPoll = old })
	pgURL := testenv.PostgresSchemaURL(t)
	replica := func() meta.Store {
		db, err := postgres.Open(context.Background(), pgURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a := newEnv(t, func(c *Config) { c.Meta = replica() })
	b := newEnv(t, func(c *Config) { c.Meta, c.Blobs = replica(), a.blobs })
	a.run()
	b.run()
	s := b.events(keyA, "types=file.uploaded")
	var lat []time.Duration
	for i := range 20 {
		content := []byte(fmt.Sprintf("replicated %d", i))
		c := a.create(keyA, fmt.Sprintf("r%d.txt", i), content)
		if r := a.put(c.UploadURL, content); r.status != http.StatusOK {
			t.Fatalf("put: %d %s", r.status, r.body)
		}
		answered := time.Now()
		f := s.next(5 * time.Second)
		lat = append(lat, time.Since(answered))
		if f.ev.Data.ID != c.Rec.ID || f.event != string(meta.EventUploaded) {
			t.Fatalf("event on b: %s %s, want %s uploaded", f.id, f.data, c.Rec.ID)
		}
	}
	slices.Sort(lat)
	t.Logf("from a's answer to the event on b: p50 %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
	if lat[len(lat)/2] > time.Second {
		t.Errorf("p50 %v: the event reached the other replica late", lat[len(lat)/2])
	}
}

// TestEventsAnswerAsDocumented holds the events endpoint's answers to
// openapi.json.
func TestEventsAnswerAsDocumented(t *testing.T) {
	seen := eventAnswers(t)
	for _, k := range []string{"GET /api/v0/events 200", "GET /api/v0/events 400", "GET /api/v0/events 401", "GET /api/v0/events 429", "GET /api/v0/events 503"} {
		if !seen[k] {
			t.Errorf("no %s", k)
		}
	}
}

// eventAnswers produces the documented answers of GET /api/v0/events and
// returns what its checkers saw. A stream's answer is checked event by
// event (decodeEventStream).
func eventAnswers(t *testing.T) map[string]bool {
	e := newEnv(t)
	chk := newSpecChecker(t, e.url)
	s := specCall{chk.client(), e.url}
	e.upload(keyA, "d.txt", []byte("documented"))
	e.call("DELETE", "/api/v0/file/"+e.upload(keyA, "gone.txt", []byte("gone")).ID, keyA, nil)
	bad := e.create(keyA, "bad.txt", []byte("declared"))
	e.put(bad.UploadURL, []byte("other"))
	s.do(t, "GET", "/api/v0/events?follow=false", keyA, "", nil)                          // 200, a stream of every type
	s.do(t, "GET", "/api/v0/events?follow=false&types=file.uploaded", keyA, "", nil)      // 200
	s.do(t, "GET", "/api/v0/events?limit=2", keyA, "", nil, "Accept", "application/json") // 200, JSON
	s.do(t, "GET", "/api/v0/events?follow=false&since=99", keyA, "", nil)                 // 200, empty
	s.do(t, "GET", "/api/v0/events?types=nope", keyA, "", nil)                            // 400
	s.do(t, "GET", "/api/v0/events", "", "", nil)                                         // 401
	e.meta.down.Store(true)
	s.do(t, "GET", "/api/v0/events", keyA, "", nil)                               // 503
	s.do(t, "GET", "/api/v0/events", keyA, "", nil, "Accept", "application/json") // 503
	e.meta.down.Store(false)

	r := newEnv(t, func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 1 })
	rchk := newSpecChecker(t, r.url)
	rs := specCall{rchk.client(), r.url}
	rs.do(t, "GET", "/api/v0/events?follow=false", keyA, "", nil) // 200
	rs.do(t, "GET", "/api/v0/events?follow=false", keyA, "", nil) // 429
	for k := range rchk.seen {
		chk.seen[k] = true
	}
	return chk.seen
}

// decodeEventStream lets the OpenAPI checker read a stream of events
// (text/event-stream): every event must be id:, event: and data: lines
// whose data is an Event as the document describes it, every comment a
// heartbeat. The body is then checked as the string the document says.
func decodeEventStream(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	eventSchema, err := documentedEvent()
	if err != nil {
		return nil, err
	}
	for _, block := range strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n") {
		if block == "" || block == ": heartbeat" {
			continue
		}
		f, err := parseFrame(strings.Split(block, "\n"))
		if err != nil {
			return nil, err
		}
		var v any
		json.Unmarshal(f.data, &v)
		if err := eventSchema.VisitJSON(v); err != nil {
			return nil, fmt.Errorf("event %s: %v", f.data, err)
		}
	}
	if len(b) > 0 && !strings.HasSuffix(string(b), "\n\n") {
		return nil, fmt.Errorf("the stream does not end with a blank line: %q", b)
	}
	return string(b), nil
}

var documentedEvent = sync.OnceValues(func() (*openapi3.Schema, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		return nil, err
	}
	ref := doc.Components.Schemas["Event"]
	if ref == nil || ref.Value == nil {
		return nil, errors.New("openapi.json has no Event schema")
	}
	return ref.Value, nil
})

func init() { openapi3filter.RegisterBodyDecoder("text/event-stream", decodeEventStream) }
