package ingest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// ErrNoEventLog: the metadata store keeps no event log (meta.EventLog);
// every shipped store does, so only a store of someone's own lacks one.
var ErrNoEventLog = errors.New("ingest: the metadata store keeps no event log")

// eventLogOf returns the store's meta.EventLog, looking through wrappers
// that say what they wrap (Unwrap), if it has one.
func eventLogOf(m meta.Store) (meta.EventLog, bool) {
	for {
		if l, ok := m.(meta.EventLog); ok {
			return l, true
		}
		u, ok := m.(interface{ Unwrap() meta.Store })
		if !ok {
			return nil, false
		}
		m = u.Unwrap()
	}
}

// The bounds of a page of events: how many Events returns when asked for
// none in particular, and at most.
const (
	DefaultEventPage = 100
	MaxEventPage     = 1000
)

// Events returns tenant's events selected by q, in Seq order: at most
// q.Limit of them, DefaultEventPage when it is below 1, never more than
// MaxEventPage.
func (c *Core) Events(ctx context.Context, tenant string, q meta.EventQuery) ([]meta.Event, error) {
	if c.events == nil {
		return nil, ErrNoEventLog
	}
	switch {
	case q.Limit < 1:
		q.Limit = DefaultEventPage
	case q.Limit > MaxEventPage:
		q.Limit = MaxEventPage
	}
	return c.events.Events(ctx, tenant, q)
}

// LastEvent returns the Seq of tenant's latest event, 0 if it has none:
// every event up to it is in the log (or was pruned) when it returns.
func (c *Core) LastEvent(ctx context.Context, tenant string) (int64, error) {
	if c.events == nil {
		return 0, ErrNoEventLog
	}
	return c.events.LastEvent(ctx, tenant)
}

// SubscribeEvents returns a subscription that is woken whenever an event
// of tenant's commits, in this process or in any other sharing the store
// (while Run runs). Subscribe before reading the log, so that an event
// that commits after the read wakes the subscription; close it when done.
// A wake-up may be missed (a watch that failed and is being restarted),
// so readers also read the log now and then without one.
func (c *Core) SubscribeEvents(tenant string) *EventSub {
	return c.eventHub.subscribe(tenant)
}

// Drained is closed once Drain is called: whoever holds a request open
// (a stream of events) ends it.
func (c *Core) Drained() <-chan struct{} { return c.drained }

// EventSub is one subscription to a tenant's events (SubscribeEvents).
type EventSub struct {
	// C receives a value when events committed since the last one; it
	// holds at most one, so that news never blocks the store.
	C <-chan struct{}

	ch     chan struct{}
	hub    *eventHub
	tenant string
	mu     sync.Mutex
	latest int64
}

// Latest returns the highest Seq a wake-up of the subscription told of;
// 0 before any.
func (s *EventSub) Latest() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest
}

// Close ends the subscription.
func (s *EventSub) Close() { s.hub.unsubscribe(s) }

// eventHub hands the news of each event (its tenant and Seq) to the
// subscriptions of that tenant in this process.
type eventHub struct {
	mu   sync.Mutex
	subs map[string]map[*EventSub]struct{}
}

func (h *eventHub) subscribe(tenant string) *EventSub {
	ch := make(chan struct{}, 1)
	s := &EventSub{C: ch, ch: ch, hub: h, tenant: tenant}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[string]map[*EventSub]struct{}{}
	}
	if h.subs[tenant] == nil {
		h.subs[tenant] = map[*EventSub]struct{}{}
	}
	h.subs[tenant][s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (h *eventHub) unsubscribe(s *EventSub) {
	h.mu.Lock()
	delete(h.subs[s.tenant], s)
	if len(h.subs[s.tenant]) == 0 {
		delete(h.subs, s.tenant)
	}
	h.mu.Unlock()
}

// publish wakes tenant's subscriptions with the news of seq. It never
// blocks: the store calls it from the goroutine that tells every watch.
func (h *eventHub) publish(tenant string, seq int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[tenant] {
		s.mu.Lock()
		s.latest = max(s.latest, seq)
		s.mu.Unlock()
		select {
		case s.ch <- struct{}{}:
		default:
		}
	}
}

// watchEvents wakes this process's subscriptions when an event commits in
// any process sharing the metadata store, so that a stream held on one
// replica learns at once of an upload recorded by another. It goes on
// until ctx ends, watching again a second after a failure; readers' own
// periodic reads cover the gap.
func (c *Core) watchEvents(ctx context.Context, l meta.EventLog) {
	for ctx.Err() == nil {
		err := l.WatchEvents(ctx, c.eventHub.publish)
		if ctx.Err() != nil {
			return
		}
		c.cfg.Logger.Warn("watching the event log failed; retrying in 1s", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// pruneEvents removes the events older than EventRetention.
func (c *Core) pruneEvents(ctx context.Context, now time.Time) (int64, error) {
	if c.events == nil {
		return 0, nil
	}
	return c.events.PruneEvents(ctx, now.Add(-c.cfg.EventRetention))
}
