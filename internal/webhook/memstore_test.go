package webhook

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// memStore is an in-memory Store for the dispatcher's own tests: the
// shipped stores are held to meta.Webhooks and meta.EventLog by
// store/meta/metatest, and the server's tests run the dispatcher on them.
type memStore struct {
	mu     sync.Mutex
	events map[string][]meta.Event
	last   map[string]int64
	hooks  map[string]*memHook
	notify []func(string, int64)
}

type memHook struct {
	meta.Webhook
	holder string
	until  time.Time
}

func newMemStore() *memStore {
	return &memStore{events: map[string][]meta.Event{}, last: map[string]int64{}, hooks: map[string]*memHook{}}
}

func (m *memStore) add(tenant string, typ meta.EventType, f meta.File) meta.Event {
	m.mu.Lock()
	m.last[tenant]++
	ev := meta.Event{Seq: m.last[tenant], Tenant: tenant, Type: typ, File: f, At: time.Now()}
	m.events[tenant] = append(m.events[tenant], ev)
	fns := slices.Clone(m.notify)
	m.mu.Unlock()
	for _, fn := range fns {
		fn(tenant, ev.Seq)
	}
	return ev
}

func (m *memStore) Events(_ context.Context, tenant string, q meta.EventQuery) ([]meta.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []meta.Event
	for _, ev := range m.events[tenant] {
		if ev.Seq > q.After && (len(q.Types) == 0 || slices.Contains(q.Types, ev.Type)) && (q.Limit < 1 || len(out) < q.Limit) {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (m *memStore) LastEvent(_ context.Context, tenant string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last[tenant], nil
}

func (m *memStore) PruneEvents(_ context.Context, before time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for t, evs := range m.events {
		keep := evs[:0]
		for _, ev := range evs {
			if ev.At.Before(before) {
				n++
				continue
			}
			keep = append(keep, ev)
		}
		m.events[t] = keep
	}
	return n, nil
}

func (m *memStore) WatchEvents(ctx context.Context, fn func(string, int64)) error {
	m.mu.Lock()
	m.notify = append(m.notify, fn)
	m.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

func (m *memStore) PutWebhook(_ context.Context, w meta.Webhook) (meta.Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.hooks[w.ID]; ok {
		return meta.Webhook{}, meta.ErrExists
	}
	w.Cursor, w.NextAttemptAt = m.last[w.Tenant], time.Now()
	m.hooks[w.ID] = &memHook{Webhook: w}
	return w, nil
}

func (m *memStore) Webhooks(_ context.Context, tenant string) ([]meta.Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []meta.Webhook
	for _, h := range m.hooks {
		if h.Tenant == tenant {
			out = append(out, h.Webhook)
		}
	}
	return out, nil
}

func (m *memStore) get(id string) meta.Webhook {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hooks[id].Webhook
}

func (m *memStore) DeleteWebhook(_ context.Context, tenant, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h, ok := m.hooks[id]; !ok || h.Tenant != tenant {
		return meta.ErrNotFound
	}
	delete(m.hooks, id)
	return nil
}

func (m *memStore) TakeWebhook(_ context.Context, holder string, lease time.Duration) (meta.Webhook, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	var best *memHook
	for _, h := range m.hooks {
		if m.last[h.Tenant] > h.Cursor && !h.NextAttemptAt.After(now) && (h.holder == "" || h.until.Before(now)) &&
			(best == nil || h.NextAttemptAt.Before(best.NextAttemptAt)) {
			best = h
		}
	}
	if best == nil {
		return meta.Webhook{}, false, nil
	}
	best.holder, best.until = holder, now.Add(lease)
	return best.Webhook, true, nil
}

func (m *memStore) RecordDelivery(_ context.Context, id, holder string, r meta.WebhookResult) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.hooks[id]
	switch {
	case !ok:
		return meta.ErrNotFound
	case h.holder != holder:
		return meta.ErrConflict
	}
	h.holder = ""
	if r.Delivered {
		h.Cursor, h.Attempts, h.FailingSince, h.LastError = r.Seq, 0, nil, ""
		return nil
	}
	h.Attempts++
	h.NextAttemptAt, h.LastError = r.NextAttemptAt, r.Error
	if r.Failing && h.FailingSince == nil {
		now := time.Now()
		h.FailingSince = &now
	}
	return nil
}
