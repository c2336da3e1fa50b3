package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// Meta wraps a metadata store: it counts the store's failures by
// operation and every status change it makes, wherever in the server (a
// request, the verifier, the sweeper) the call comes from. Methods it does
// not override pass through the embedded store.
type Meta struct {
	meta.Store
	obs *Metrics
}

// NewMeta returns s, counted in m.
func NewMeta(s meta.Store, m *Metrics) Meta { return Meta{Store: s, obs: m} }

// Unwrap returns the store it wraps, so that the core finds what it can do
// beyond meta.Store (meta.Watcher).
func (m Meta) Unwrap() meta.Store { return m.Store }

// failed counts err unless it is one of the store's expected answers.
func (m Meta) failed(op string, err error) error {
	if err != nil && !errors.Is(err, meta.ErrNotFound) && !errors.Is(err, meta.ErrConflict) &&
		!errors.Is(err, meta.ErrExists) && !errors.Is(err, context.Canceled) {
		m.obs.StoreErrors.WithLabelValues("meta", op).Inc()
	}
	return err
}

func (m Meta) Claim(ctx context.Context, f meta.File) (meta.File, bool, error) {
	rec, created, err := m.Store.Claim(ctx, f)
	if err == nil && created {
		m.obs.Transition("none", string(meta.StatusPending))
	}
	return rec, created, m.failed("claim", err)
}

func (m Meta) ClaimAll(ctx context.Context, files []meta.File) ([]meta.Claimed, error) {
	out, err := m.Store.ClaimAll(ctx, files)
	for _, c := range out {
		if c.Created {
			m.obs.Transition("none", string(meta.StatusPending))
		}
	}
	return out, m.failed("claim_all", err)
}

func (m Meta) Get(ctx context.Context, tenant, id string) (meta.File, error) {
	f, err := m.Store.Get(ctx, tenant, id)
	return f, m.failed("get", err)
}

func (m Meta) Find(ctx context.Context, tenant string, ids, hashes []string) ([]meta.File, error) {
	fs, err := m.Store.Find(ctx, tenant, ids, hashes)
	return fs, m.failed("find", err)
}

func (m Meta) HasSize(ctx context.Context, tenant string, size int64) (bool, error) {
	ok, err := m.Store.HasSize(ctx, tenant, size)
	return ok, m.failed("has_size", err)
}

func (m Meta) Usage(ctx context.Context, tenant string) (meta.Usage, error) {
	u, err := m.Store.Usage(ctx, tenant)
	return u, m.failed("usage", err)
}

func (m Meta) List(ctx context.Context, tenant string, q meta.ListQuery) ([]meta.File, error) {
	fs, err := m.Store.List(ctx, tenant, q)
	return fs, m.failed("list", err)
}

func (m Meta) Transition(ctx context.Context, id string, u meta.Update) (meta.File, error) {
	f, err := m.Store.Transition(ctx, id, u)
	if err == nil {
		m.obs.Transition(string(u.From), string(u.To))
	}
	return f, m.failed("transition", err)
}

func (m Meta) Delete(ctx context.Context, tenant, id string) (meta.File, error) {
	f, err := m.Store.Delete(ctx, tenant, id)
	if err == nil {
		m.obs.Transition(string(f.Status), "deleted")
	}
	return f, m.failed("delete", err)
}

func (m Meta) DeleteStale(ctx context.Context, tenant, id string, st meta.Status, before time.Time) (meta.File, error) {
	f, err := m.Store.DeleteStale(ctx, tenant, id, st, before)
	if err == nil {
		m.obs.Transition(string(f.Status), "deleted")
	}
	return f, m.failed("delete_stale", err)
}

func (m Meta) Stale(ctx context.Context, s meta.Status, before time.Time, limit int) ([]meta.File, error) {
	fs, err := m.Store.Stale(ctx, s, before, limit)
	return fs, m.failed("stale", err)
}

func (m Meta) Exists(ctx context.Context, id string) (bool, error) {
	ok, err := m.Store.Exists(ctx, id)
	return ok, m.failed("exists", err)
}

func (m Meta) KeyByHash(ctx context.Context, hash string) (meta.Key, error) {
	k, err := m.Store.KeyByHash(ctx, hash)
	return k, m.failed("key_by_hash", err)
}

func (m Meta) Ping(ctx context.Context) error {
	return m.failed("ping", m.Store.Ping(ctx))
}
