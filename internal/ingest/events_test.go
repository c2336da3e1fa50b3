package ingest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

type loggingStore struct{ meta.Store }

func (loggingStore) Events(context.Context, string, meta.EventQuery) ([]meta.Event, error) {
	return nil, nil
}
func (loggingStore) LastEvent(context.Context, string) (int64, error)       { return 0, nil }
func (loggingStore) PruneEvents(context.Context, time.Time) (int64, error)  { return 0, nil }
func (loggingStore) WatchEvents(context.Context, func(string, int64)) error { return nil }

// TestEventLogFoundThroughWrappers: a store's event log is found behind
// wrappers that say what they wrap; a core without one says so.
func TestEventLogFoundThroughWrappers(t *testing.T) {
	if _, ok := eventLogOf(wrapper{wrapper{loggingStore{}}}); !ok {
		t.Fatal("the event log behind two wrappers was not found")
	}
	if _, ok := eventLogOf(wrapper{nil}); ok {
		t.Fatal("a wrapper of nothing counts as an event log")
	}
	c := &Core{}
	if _, err := c.Events(context.Background(), "t", meta.EventQuery{}); !errors.Is(err, ErrNoEventLog) {
		t.Errorf("Events without an event log: %v", err)
	}
}

// TestEventHubWakesTheTenantsSubscriptions: news of a tenant's event wakes
// each of its subscriptions, once however many events came, with the
// highest id, and no other tenant's; a closed one is woken no more.
func TestEventHubWakesTheTenantsSubscriptions(t *testing.T) {
	var h eventHub
	a1, a2, b := h.subscribe("a"), h.subscribe("a"), h.subscribe("b")
	h.publish("a", 4)
	h.publish("a", 5)
	h.publish("a", 3) // late news of an earlier event
	for _, s := range []*EventSub{a1, a2} {
		select {
		case <-s.C:
		default:
			t.Fatal("a subscription of a was not woken")
		}
		if s.Latest() != 5 {
			t.Errorf("latest %d, want 5", s.Latest())
		}
		select {
		case <-s.C:
			t.Error("woken twice: news must never pile up")
		default:
		}
	}
	select {
	case <-b.C:
		t.Error("b was woken by a's event")
	default:
	}
	a1.Close()
	h.publish("a", 6)
	select {
	case <-a1.C:
		t.Error("a closed subscription was woken")
	default:
	}
	a2.Close()
	b.Close()
	if len(h.subs) != 0 {
		t.Errorf("subscriptions left: %v", h.subs)
	}
}

// flakyWatch is an event log whose first watch fails.
type flakyWatch struct {
	meta.Store
	log     meta.EventLog
	watches atomic.Int32
}

func (f *flakyWatch) Events(ctx context.Context, tenant string, q meta.EventQuery) ([]meta.Event, error) {
	return f.log.Events(ctx, tenant, q)
}
func (f *flakyWatch) LastEvent(ctx context.Context, tenant string) (int64, error) {
	return f.log.LastEvent(ctx, tenant)
}
func (f *flakyWatch) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	return f.log.PruneEvents(ctx, before)
}
func (f *flakyWatch) WatchEvents(ctx context.Context, fn func(string, int64)) error {
	if f.watches.Add(1) == 1 {
		return errors.New("the watch was lost")
	}
	return f.log.WatchEvents(ctx, fn)
}

// TestRunWatchesTheEventLogAgainAfterAFailure: Run watches the store's
// event log and wakes the tenant's subscriptions with each event's id; a
// watch that fails is started again a second later.
func TestRunWatchesTheEventLogAgainAfterAFailure(t *testing.T) {
	var fw *flakyWatch
	c := newCore(t, func(cfg *Config) {
		l, _ := eventLogOf(cfg.Meta)
		fw = &flakyWatch{Store: cfg.Meta, log: l}
		cfg.Meta = fw
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	sub := c.SubscribeEvents("t")
	defer sub.Close()
	for fw.watches.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the second watch is under way
	content := []byte("watched")
	f, _, err := c.Create(ctx, "t", "w.txt", hashOf(content))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.C:
	case <-time.After(5 * time.Second):
		t.Fatal("the subscription was not woken")
	}
	if sub.Latest() != 1 {
		t.Errorf("latest %d, want 1", sub.Latest())
	}
	evs, err := c.Events(ctx, "t", meta.EventQuery{})
	if err != nil || len(evs) != 1 || evs[0].Type != meta.EventCreated || evs[0].File.ID != f.ID {
		t.Errorf("events: %+v %v", evs, err)
	}
	if last, err := c.LastEvent(ctx, "t"); err != nil || last != 1 {
		t.Errorf("last event: %d %v", last, err)
	}
}
