package sdktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/server"
)

// collected is what an Events loop running in the background yielded.
type collected struct {
	events chan *perseus.Event
	err    chan error // the error that ended the loop, or nil when it ended without one
}

// runEvents runs client.File.Events(ctx, opts) in the background.
func runEvents(ctx context.Context, c *perseus.Client, opts perseus.EventsOptions) *collected {
	out := &collected{events: make(chan *perseus.Event, 1000), err: make(chan error, 1)}
	go func() {
		for ev, err := range c.File.Events(ctx, opts) {
			if err != nil {
				out.err <- err
				return
			}
			out.events <- ev
		}
		out.err <- nil
	}()
	return out
}

// take returns the next n events, failing the test if they do not come
// within 10 s.
func (c *collected) take(t *testing.T, n int) []*perseus.Event {
	t.Helper()
	var out []*perseus.Event
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case ev := <-c.events:
			out = append(out, ev)
		case err := <-c.err:
			t.Fatalf("the loop ended (%v) after %d of %d events", err, len(out), n)
		case <-timeout:
			t.Fatalf("%d of %d events within 10s", len(out), n)
		}
	}
	return out
}

// ended returns the error that ended the loop, failing the test if it
// goes on for 10 s.
func (c *collected) ended(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.err:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not end within 10s")
	}
	return nil
}

func describe(evs []*perseus.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%d %s", e.ID, e.Type))
	}
	return strings.Join(out, ", ")
}

// TestEventsFollowUploadsAsTheyHappen: a loop over Events yields, in
// order and at once, each upload's file.created and file.uploaded, with
// the file as the server has it, and then a deletion's file.deleted.
func TestEventsFollowUploadsAsTheyHappen(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := e.client(nil)
		events := runEvents(ctx, c, perseus.EventsOptions{})
		var files []*perseus.File
		for i := range 3 {
			path, _ := writeRandom(t, fmt.Sprintf("f%d.bin", i), 1000+i)
			f, err := c.File.UploadFile(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		// Each file's created, then its uploaded (on S3, verified after the
		// upload returned, so the files' events may interleave), ids 1 to 6.
		got := events.take(t, 6)
		seen := map[string][]*perseus.Event{}
		for i, ev := range got {
			if ev.ID != int64(i+1) {
				t.Fatalf("events: %s, want ids 1 to 6", describe(got))
			}
			seen[ev.File.ID] = append(seen[ev.File.ID], ev)
		}
		for i, f := range files {
			evs := seen[f.ID]
			if len(evs) != 2 || evs[0].Type != perseus.EventFileCreated || evs[0].File.Status != perseus.StatusPending ||
				evs[1].Type != perseus.EventFileUploaded {
				t.Fatalf("events: %s; file %d (%s) has %s", describe(got), i, f.ID, describe(evs))
			}
			now, err := c.File.FindFile(ctx, f.ID)
			if err != nil {
				t.Fatal(err)
			}
			if *evs[1].File != *now || !evs[1].Timestamp.Equal(now.UpdatedAt) {
				t.Errorf("uploaded event's file %+v at %v, want %+v", *evs[1].File, evs[1].Timestamp, *now)
			}
		}
		if err := c.File.DeleteFile(ctx, files[0].ID); err != nil {
			t.Fatal(err)
		}
		if d := events.take(t, 1)[0]; d.ID != 7 || d.Type != perseus.EventFileDeleted || d.File.ID != files[0].ID || d.File.Status != perseus.StatusUploaded {
			t.Errorf("deleted event: %d %s %+v", d.ID, d.Type, d.File)
		}
		cancel()
		if err := events.ended(t); !errors.Is(err, context.Canceled) {
			t.Errorf("the loop ended with %v, want context.Canceled", err)
		}
	})
}

// cutStreams cuts the body of the first cuts answers of GET
// /api/v0/events after after bytes, as a dropped connection does.
type cutStreams struct {
	rt    http.RoundTripper
	after int
	cuts  atomic.Int32
}

func (c *cutStreams) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := c.rt.RoundTrip(r)
	if err != nil || r.URL.Path != "/api/v0/events" || c.cuts.Add(-1) < 0 {
		return res, err
	}
	res.Body = &cutBody{ReadCloser: res.Body, left: c.after}
	return res, nil
}

type cutBody struct {
	io.ReadCloser
	left int
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.ReadCloser.Close()
		return 0, io.ErrUnexpectedEOF
	}
	n, err := b.ReadCloser.Read(p[:min(len(p), b.left)])
	b.left -= n
	return n, err
}

// lastEventIDs records the Last-Event-ID of each GET /api/v0/events.
func (e *env) lastEventIDs() func() []string {
	var mu sync.Mutex
	var ids []string
	e.inject(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/v0/events" {
			mu.Lock()
			ids = append(ids, r.Header.Get("Last-Event-ID"))
			mu.Unlock()
		}
		return false
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...)
	}
}

// TestEventsResumeAfterADroppedConnection: streams cut in the middle of
// an event are opened again after the last event yielded: every event is
// yielded once, in order, the backlog and the live ones alike.
func TestEventsResumeAfterADroppedConnection(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up := e.client(nil)
	for i := range 4 {
		uploadBytes(t, up, fmt.Sprintf("b%d.txt", i), []byte(fmt.Sprintf("backlog %d", i)))
	}
	seen := e.lastEventIDs()
	cut := &cutStreams{rt: http.DefaultTransport, after: 700} // an event is some 400 bytes
	cut.cuts.Store(3)
	events := runEvents(ctx, e.client(cut), perseus.EventsOptions{})
	got := events.take(t, 8)
	for i := 0; i < 2; i++ {
		uploadBytes(t, up, fmt.Sprintf("l%d.txt", i), []byte(fmt.Sprintf("live %d", i)))
	}
	got = append(got, events.take(t, 4)...)
	for i, ev := range got {
		if ev.ID != int64(i+1) {
			t.Fatalf("events yielded: %s, want 1 to 12 once each", describe(got))
		}
	}
	select {
	case ev := <-events.events:
		t.Errorf("an event more: %d %s", ev.ID, ev.Type)
	case <-time.After(200 * time.Millisecond):
	}
	ids, prev := seen(), int64(0)
	for i, id := range ids {
		n, _ := strconv.ParseInt(id, 10, 64)
		if i == 0 && id != "" || i > 0 && n <= prev {
			t.Errorf("Last-Event-ID of the streams opened: %q, want none, then the last event yielded each time", ids)
		}
		prev = n
	}
	if len(ids) != 4 {
		t.Errorf("%d streams opened, want 4 (3 cut)", len(ids))
	}
}

// TestEventsFilterSinceAndNoFollow: Types and Since select the events;
// NoFollow ends the loop after those there are.
func TestEventsFilterSinceAndNoFollow(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := e.client(nil)
	for i := range 3 {
		uploadBytes(t, c, fmt.Sprintf("f%d.txt", i), []byte(fmt.Sprintf("content %d", i)))
	}
	for _, tt := range []struct {
		opts perseus.EventsOptions
		want string
	}{
		{perseus.EventsOptions{NoFollow: true}, "1 file.created, 2 file.uploaded, 3 file.created, 4 file.uploaded, 5 file.created, 6 file.uploaded"},
		{perseus.EventsOptions{NoFollow: true, Since: 4}, "5 file.created, 6 file.uploaded"},
		{perseus.EventsOptions{NoFollow: true, Types: []perseus.EventType{perseus.EventFileUploaded}}, "2 file.uploaded, 4 file.uploaded, 6 file.uploaded"},
		{perseus.EventsOptions{NoFollow: true, Since: 2, Types: []perseus.EventType{perseus.EventFileCreated, perseus.EventFileDeleted}}, "3 file.created, 5 file.created"},
		{perseus.EventsOptions{NoFollow: true, Since: 6}, ""},
	} {
		var got []*perseus.Event
		for ev, err := range c.File.Events(ctx, tt.opts) {
			if err != nil {
				t.Fatalf("%+v: %v", tt.opts, err)
			}
			got = append(got, ev)
		}
		if describe(got) != tt.want {
			t.Errorf("%+v: %s, want %s", tt.opts, describe(got), tt.want)
		}
	}

	// A filtered stream that follows yields only what it takes.
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := runEvents(fctx, c, perseus.EventsOptions{Since: 6, Types: []perseus.EventType{perseus.EventFileFailed}})
	uploadBytes(t, c, "ok.txt", []byte("fine"))
	res, err := c.File.CreateFile(ctx, "bad.txt", sum([]byte("declared")))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", res.UploadURL, strings.NewReader("other bytes"))
	if r, err := http.DefaultClient.Do(req); err == nil {
		r.Body.Close()
	}
	if ev := failed.take(t, 1)[0]; ev.ID != 10 || ev.Type != perseus.EventFileFailed || ev.File.ID != res.File.ID || ev.File.Reason == "" {
		t.Errorf("failed event: %d %s %+v", ev.ID, ev.Type, ev.File)
	}
}

// TestEventsStopOnARefusal: what the server refuses (a bad key, a bad
// type: 4xx) ends the loop with the error at once, without retrying; a
// server error (500) at the start is retried.
func TestEventsStopOnARefusal(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	bad, err := perseus.NewClient(perseus.WithHost(e.url), perseus.WithAPIKey("wrong"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		c    *perseus.Client
		opts perseus.EventsOptions
		want int
	}{
		{bad, perseus.EventsOptions{}, http.StatusUnauthorized},
		{e.client(nil), perseus.EventsOptions{Types: []perseus.EventType{"file.renamed"}}, http.StatusBadRequest},
	} {
		before := e.count("GET /api/v0/events")
		n := 0
		var last error
		for _, err := range tt.c.File.Events(ctx, tt.opts) {
			n++
			last = err
		}
		var ae *perseus.APIError
		if n != 1 || !errors.As(last, &ae) || ae.StatusCode != tt.want || ae.Message == "" {
			t.Errorf("%+v: %d yields, last %v; want one error %d", tt.opts, n, last, tt.want)
		}
		if sent := e.count("GET /api/v0/events") - before; sent != 1 {
			t.Errorf("%+v: %d requests, want 1", tt.opts, sent)
		}
	}
	if !errors.Is(func() error {
		for _, err := range bad.File.Events(ctx, perseus.EventsOptions{}) {
			return err
		}
		return nil
	}(), perseus.ErrUnauthorized) {
		t.Error("a bad key's error is not ErrUnauthorized")
	}

	// A 500 at the start: opened again.
	var failures atomic.Int32
	failures.Store(2)
	e.inject(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/v0/events" || failures.Add(-1) < 0 {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"code":"internal","message":"internal server error"}`)
		return true
	})
	uploadBytes(t, e.client(nil), "x.txt", []byte("x"))
	var got []*perseus.Event
	for ev, err := range e.client(nil).File.Events(ctx, perseus.EventsOptions{NoFollow: true}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	if describe(got) != "1 file.created, 2 file.uploaded" {
		t.Errorf("after two 500s: %s", describe(got))
	}
}

// TestEventsBreakClosesTheStream: breaking out of the loop ends it at
// once, the stream closed, with nothing yielded after.
func TestEventsBreakClosesTheStream(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(nil)
	uploadBytes(t, c, "x.txt", []byte("x"))
	done := make(chan int64)
	go func() {
		for ev, err := range c.File.Events(context.Background(), perseus.EventsOptions{}) {
			if err != nil {
				t.Error(err)
			}
			done <- ev.ID
			break
		}
		close(done)
	}()
	if id := <-done; id != 1 {
		t.Errorf("first event %d", id)
	}
	select {
	case _, more := <-done:
		if more {
			t.Error("an event was yielded after the break")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not end at the break")
	}
}

// TestEventsReconnectWhenTheStreamGoesQuiet: a stream that sends nothing,
// not even a heartbeat, for IdleTimeout is taken for dead and opened
// again.
func TestEventsReconnectWhenTheStreamGoesQuiet(t *testing.T) {
	e := newEnv(t, nil, func(c *server.Config) { c.EventHeartbeat = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := e.client(nil)
	events := runEvents(ctx, c, perseus.EventsOptions{IdleTimeout: 300 * time.Millisecond})
	time.Sleep(time.Second)
	if n := e.count("GET /api/v0/events"); n < 2 {
		t.Errorf("%d streams opened in 1s with an idle timeout of 300ms, want several", n)
	}
	uploadBytes(t, c, "x.txt", []byte("x"))
	if got := describe(events.take(t, 2)); got != "1 file.created, 2 file.uploaded" {
		t.Errorf("events: %s", got)
	}
}
