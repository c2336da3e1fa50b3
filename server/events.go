package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/perseus-go/perseus/internal/ingest"
	"github.com/perseus-go/perseus/store/meta"
)

// eventPoll is how often a stream of events reads the log although nothing
// woke it: events committed anywhere wake it at once (the core's watch of
// the store), and this covers a wake-up that was missed.
var eventPoll = 2 * time.Second

// streamPage is how many events a stream reads from the log at a time.
const streamPage = 500

// streamWriteTimeout bounds each write of a stream (events, a heartbeat):
// a client that stops reading is let go of, while one that reads may hold
// its stream as long as it likes. Each write pushes the deadline on, and a
// heartbeat comes well before it passes (over HTTP/2 a deadline that
// passes ends the stream even between writes).
func (s *Server) streamWriteTimeout() time.Duration {
	return max(time.Minute, 2*s.cfg.EventHeartbeat)
}

// Event is one event of the API: a change of one of the caller's files.
type Event struct {
	ID        string `json:"id"` // the event's sequence number in the tenant's log, in decimal
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      File   `json:"data"` // the file as the change left it (as it was, for file.deleted)
}

func toEvent(e meta.Event) Event {
	return Event{ID: strconv.FormatInt(e.Seq, 10), Type: string(e.Type), Timestamp: e.At.UTC().Format(TimeFormat), Data: toFile(e.File)}
}

// eventsPage is the answer of GET /api/v0/events to Accept: application/json.
type eventsPage struct {
	Events []Event `json:"events"`
	// Last is what to send as since for the next page: the id of the last
	// event listed, or, once no more are listed, the caller's latest event.
	Last int64 `json:"last"`
	More bool  `json:"more"` // a full page: ask again with since=last for more at once
}

// eventsRequest is what a GET /api/v0/events asks for.
type eventsRequest struct {
	types  []meta.EventType // all when empty
	since  int64            // the events after this id
	latest bool             // since=latest: after the tenant's latest event, read when the request is answered
	follow bool             // keep the stream open for events to come
	json   bool             // one page of JSON instead of a stream
	limit  int              // the page's size, for json
}

// parseEvents reads the query (types, since, follow, limit), Last-Event-ID
// and Accept of a GET /api/v0/events.
func parseEvents(r *http.Request) (eventsRequest, *Error) {
	v := r.URL.Query()
	req := eventsRequest{follow: true, limit: ingest.DefaultEventPage, json: wantsJSON(r.Header.Values("Accept"))}
	for _, list := range v["types"] {
		for t := range strings.SplitSeq(list, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			et := meta.EventType(t)
			if !slices.Contains(meta.EventTypes, et) {
				return req, ErrInvalidEventType.With("types: %q is no event type; %s", t, ErrInvalidEventType.Message)
			}
			if !slices.Contains(req.types, et) {
				req.types = append(req.types, et)
			}
		}
	}
	since, from := v.Get("since"), "since"
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		since, from = id, "Last-Event-ID"
	}
	if since == "latest" && from == "since" {
		req.latest = true
	} else if since != "" {
		n, err := strconv.ParseInt(since, 10, 64)
		if err != nil || n < 0 {
			return req, ErrInvalidSince.With("%s %q: %s", from, since, ErrInvalidSince.Message)
		}
		req.since = n
	}
	switch f := v.Get("follow"); f {
	case "", "true", "1":
	case "false", "0":
		req.follow = false
	default:
		return req, ErrBadRequest.With("follow=%q: use true (the default: stream events as they come) or false (send those there are, then end)", f)
	}
	if r.Method == http.MethodHead {
		req.follow = false
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > ingest.MaxEventPage {
			return req, ErrInvalidLimit.With("limit=%q: %s", l, ErrInvalidLimit.Message)
		}
		req.limit = n
	}
	return req, nil
}

// wantsJSON reports whether an Accept header asks for application/json and
// not for text/event-stream (which is what is answered otherwise).
func wantsJSON(accept []string) bool {
	json := false
	for _, h := range accept {
		for part := range strings.SplitSeq(h, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch mt {
			case "text/event-stream":
				return false
			case "application/json":
				json = true
			}
		}
	}
	return json
}

// handleEvents answers GET /api/v0/events: the caller's events after since
// (or Last-Event-ID), of the types asked for, as Server-Sent Events that go
// on as events happen, on any replica (unless follow=false); or, to Accept:
// application/json, one page of them.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	req, e := parseEvents(r)
	if e != nil {
		writeError(w, e)
		return
	}
	if req.json {
		s.eventsPage(w, r, req)
		return
	}
	s.streamEvents(w, r, req)
}

// eventsPage answers one page of events as JSON.
func (s *Server) eventsPage(w http.ResponseWriter, r *http.Request, req eventsRequest) {
	ctx, tenant := r.Context(), tenantOf(r)
	// The latest id first: every event up to it is in the log when the
	// page is read, so a page that is not full has them all.
	latest, err := s.core.LastEvent(ctx, tenant)
	if err != nil {
		s.fail(w, r, "events", err)
		return
	}
	if req.latest {
		req.since = latest
	}
	evs, err := s.core.Events(ctx, tenant, meta.EventQuery{After: req.since, Types: req.types, Limit: req.limit})
	if err != nil {
		s.fail(w, r, "events", err)
		return
	}
	page := eventsPage{Events: make([]Event, len(evs)), Last: req.since, More: len(evs) == req.limit}
	for i, ev := range evs {
		page.Events[i] = toEvent(ev)
		page.Last = ev.Seq
	}
	if !page.More {
		page.Last = max(page.Last, latest)
	}
	writeJSON(w, http.StatusOK, page)
}

// streamEvents answers a stream of Server-Sent Events: each event as
//
//	id: <id>
//	event: <type>
//	data: <the Event as JSON>
//
// the backlog first, then each event as it commits, on this replica or
// another, and a comment (": heartbeat") every EventHeartbeat, until the
// client goes, the server drains, or the log cannot be read (then the
// stream ends, and the client resumes it with Last-Event-ID).
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, req eventsRequest) {
	ctx, tenant := r.Context(), tenantOf(r)
	var sub *ingest.EventSub
	if req.follow {
		// Subscribed before the log is read, so that an event that commits
		// after the read wakes the stream.
		sub = s.core.SubscribeEvents(tenant)
		defer sub.Close()
	}
	if req.latest {
		latest, err := s.core.LastEvent(ctx, tenant)
		if err != nil {
			s.fail(w, r, "events", err)
			return
		}
		req.since = latest
	}
	q := meta.EventQuery{After: req.since, Types: req.types, Limit: streamPage}
	evs, err := s.core.Events(ctx, tenant, q)
	if err != nil {
		s.fail(w, r, "events", err)
		return
	}
	rc := http.NewResponseController(w)
	// The stream lasts as long as the client stays: no read deadline
	// (idleBodies sets one, which would end the request's context once it
	// passed), and a write deadline for each write only (streamWriteTimeout),
	// none of the server's for the whole answer.
	rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	w.WriteHeader(http.StatusOK)
	var beat <-chan time.Time
	if req.follow {
		t := time.NewTicker(s.cfg.EventHeartbeat)
		defer t.Stop()
		beat = t.C
	}
	for {
		for {
			rc.SetWriteDeadline(time.Now().Add(s.streamWriteTimeout()))
			for _, ev := range evs {
				if err := writeEvent(w, ev); err != nil {
					return
				}
				q.After = ev.Seq
			}
			if len(evs) < q.Limit {
				break
			}
			if evs, err = s.core.Events(ctx, tenant, q); err != nil {
				s.streamFailed(r, err)
				return
			}
		}
		if rc.Flush() != nil || !req.follow {
			return
		}
		if !s.awaitEvents(ctx, sub, q.After, beat, w, rc) {
			return
		}
		if evs, err = s.core.Events(ctx, tenant, q); err != nil {
			s.streamFailed(r, err)
			return
		}
	}
}

// awaitEvents waits until the log may hold events after after: sub tells
// of one, or eventPoll passed; meanwhile it sends a heartbeat at each beat.
// It returns false when the stream is to end: the client went, the server
// drains, or a heartbeat could not be sent.
func (s *Server) awaitEvents(ctx context.Context, sub *ingest.EventSub, after int64, beat <-chan time.Time, w io.Writer, rc *http.ResponseController) bool {
	poll := time.NewTimer(eventPoll)
	defer poll.Stop()
	for {
		select {
		case <-sub.C:
			if sub.Latest() > after {
				return true
			} // news of events the stream has read already
		case <-poll.C:
			return true
		case <-beat:
			rc.SetWriteDeadline(time.Now().Add(s.streamWriteTimeout()))
			if _, err := io.WriteString(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return false
			}
		case <-ctx.Done():
			return false
		case <-s.core.Drained():
			return false
		}
	}
}

// writeEvent writes one event of a stream.
func writeEvent(w io.Writer, ev meta.Event) error {
	data, err := json.Marshal(toEvent(ev))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, data)
	return err
}

// streamFailed logs why a stream of events ended early; its client
// resumes it.
func (s *Server) streamFailed(r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	s.cfg.Logger.ErrorContext(r.Context(), "store failure: stream of events ended", "op", "events", "err", err)
}
