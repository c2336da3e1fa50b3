package perseus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EventType is what happened to a file: EventFileCreated (a new record),
// EventFileUploaded (its content stored and its SHA-256 verified),
// EventFileFailed (an upload did not produce the declared content) or
// EventFileDeleted (the record was deleted, by a client or the sweeper); a
// server may add more.
type EventType string

// Event is one change of one of the caller's files.
type Event struct {
	// ID is the event's position in the caller's event log: 1, 2, 3… in
	// the order the changes committed, on whichever server. Pass the last
	// one seen as EventsOptions.Since to resume after it.
	ID        int64
	Type      EventType
	Timestamp time.Time // when the change was made
	// File is the file as the change left it (as it was, for
	// EventFileDeleted).
	File *File
}

// EventsOptions selects the events Events yields. The zero value yields
// every event kept, then each new one as it happens.
type EventsOptions struct {
	// Since yields only the events after this ID (the last one seen, to
	// resume); 0: from the oldest the server keeps (it keeps them for its
	// --event-retention, a week by default).
	Since int64
	// Types yields only events of these types; all when empty.
	Types []EventType
	// NoFollow ends the iteration once the events there are now have been
	// yielded, instead of waiting for new ones.
	NoFollow bool
	// IdleTimeout is how long a stream may go without a byte (the server
	// sends a heartbeat every 15 s) before it is taken for dead and opened
	// again. 0: one minute.
	IdleTimeout time.Duration
}

// Events yields the caller's events, in order, as they happen on any
// server sharing the store (GET /api/v0/events, Server-Sent Events). A
// stream that breaks (a dropped connection, a server shutting down or
// restarting, an error of the server's) is opened again, after a pause
// that grows with each attempt that brings nothing (the client's
// RetryPolicy: exponential backoff with jitter, and its limits), resuming
// after the last event yielded: none is missed, none is yielded twice. A
// request the server refuses (a bad API key, a bad option: 4xx) ends the
// iteration with (nil, err), as does a break that the policy gives up on;
// so does ctx ending, with ctx's error. Breaking out of the loop closes
// the stream.
//
//	for ev, err := range client.File.Events(ctx, perseus.EventsOptions{Types: []perseus.EventType{perseus.EventFileUploaded}}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(ev.ID, ev.Type, ev.File.Name)
//	}
func (s *FileService) Events(ctx context.Context, opts EventsOptions) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		if opts.IdleTimeout <= 0 {
			opts.IdleTimeout = time.Minute
		}
		last := opts.Since
		clock := retryClock{p: s.client.retry}
		for {
			st := eventStream{s: s, opts: opts, last: last, yield: yield}
			err := st.run(ctx)
			last = st.last
			switch {
			case st.stopped:
				return
			case ctx.Err() != nil:
				yield(nil, ctx.Err())
				return
			case err == nil: // the events there were, with NoFollow
				return
			case !reconnects(err):
				yield(nil, err)
				return
			}
			if st.progress {
				clock = retryClock{p: s.client.retry} // a stream that worked: start afresh
			}
			clock.attempt++
			wait, again := clock.next(0)
			if !again {
				yield(nil, fmt.Errorf("perseus: the stream of events broke and was not opened again (retry policy): %w", err))
				return
			}
			if sleep(ctx, wait) != nil {
				yield(nil, ctx.Err())
				return
			}
		}
	}
}

// errStreamEnded is a stream of events that the server ended (it shuts
// down, or cannot read the log): it is opened again.
var errStreamEnded = errors.New("perseus: the server ended the stream of events")

// streamBroke is how a stream of events that was open broke.
type streamBroke struct{ err error }

func (b streamBroke) Error() string { return "perseus: the stream of events broke: " + b.err.Error() }
func (b streamBroke) Unwrap() error { return b.err }

// reconnects reports whether a stream that ended with err is opened again:
// one that broke, or that the server could not open (500). Network errors
// and the answers a retry can fix (502, 503, 504, 429…) at its start have
// had the client's retries already; any other answer is final.
func reconnects(err error) bool {
	var b streamBroke
	if errors.As(err, &b) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusInternalServerError
}

// eventStream is one request of Events: one stream, from last on.
type eventStream struct {
	s     *FileService
	opts  EventsOptions
	yield func(*Event, error) bool

	last     int64 // the last event yielded
	progress bool  // an event or a heartbeat arrived
	stopped  bool  // the consumer broke out of its loop
}

func (st *eventStream) path() string {
	q := url.Values{}
	if len(st.opts.Types) > 0 {
		types := make([]string, len(st.opts.Types))
		for i, t := range st.opts.Types {
			types[i] = string(t)
		}
		q.Set("types", strings.Join(types, ","))
	}
	if st.opts.NoFollow {
		q.Set("follow", "false")
	}
	if len(q) == 0 {
		return "/api/v0/events"
	}
	return "/api/v0/events?" + q.Encode()
}

// run opens the stream and yields its events until it ends: nil once a
// NoFollow stream has sent them all, a streamBroke when it broke, or the
// error of the request.
func (st *eventStream) run(ctx context.Context) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hdr := map[string]string{"Accept": "text/event-stream"}
	if st.last > 0 {
		hdr["Last-Event-ID"] = strconv.FormatInt(st.last, 10)
	}
	r := request{method: http.MethodGet, path: st.path(), header: hdr}
	return st.s.client.do(cctx, r, func(resp *http.Response) error {
		defer resp.Body.Close() // at once: a stream is never drained
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			return fmt.Errorf("perseus: GET %s answered %s, not a stream of events: this server offers no events", st.path(), ct)
		}
		body := &idleReader{r: resp.Body, d: st.opts.IdleTimeout, cancel: cancel}
		defer body.stop()
		return st.read(ctx, newSSEReader(body))
	})
}

// read yields the events of one stream.
func (st *eventStream) read(ctx context.Context, sse *sseReader) error {
	for {
		ev, err := sse.next()
		if sse.comments > 0 {
			st.progress = true
		}
		switch {
		case errors.Is(err, io.EOF) && st.opts.NoFollow:
			return nil
		case errors.Is(err, io.EOF):
			return streamBroke{errStreamEnded}
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return streamBroke{err}
		}
		e, err := decodeEvent(ev)
		if err != nil {
			return err
		}
		if e.ID <= st.last {
			continue // sent before, on a stream that broke
		}
		st.last, st.progress = e.ID, true
		if !st.yield(e, nil) {
			st.stopped = true
			return nil
		}
	}
}

// eventJSON is an event's data as the server sends it.
type eventJSON struct {
	ID        string    `json:"id"`
	Type      EventType `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      *File     `json:"data"`
}

// decodeEvent turns one event of the stream into an Event.
func decodeEvent(ev sseEvent) (*Event, error) {
	var j eventJSON
	if err := json.Unmarshal([]byte(ev.data), &j); err != nil {
		return nil, fmt.Errorf("perseus: an event's data is not an event's JSON: %w", err)
	}
	idText := ev.id
	if idText == "" {
		idText = j.ID
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return nil, fmt.Errorf("perseus: an event has id %q, not a positive whole number", idText)
	}
	typ := j.Type
	if typ == "" {
		typ = EventType(ev.event)
	}
	return &Event{ID: id, Type: typ, Timestamp: j.Timestamp, File: j.Data}, nil
}

// idleReader reads r, calling cancel when no byte has arrived for d.
type idleReader struct {
	r      io.Reader
	d      time.Duration
	cancel context.CancelFunc
	once   sync.Once
	t      *time.Timer
}

func (i *idleReader) Read(p []byte) (int, error) {
	i.once.Do(func() { i.t = time.AfterFunc(i.d, i.cancel) })
	n, err := i.r.Read(p)
	if n > 0 {
		i.t.Reset(i.d)
	}
	return n, err
}

func (i *idleReader) stop() {
	if i.t != nil {
		i.t.Stop()
	}
}
