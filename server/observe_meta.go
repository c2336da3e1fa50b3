package server

import (
	"context"
	"errors"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// observedMeta wraps the metadata store: it counts the store's failures by
// operation and every status change it makes, wherever in the server (a
// request, the verifier, the sweeper) the call comes from. Methods it does
// not override pass through the embedded store.
type observedMeta struct {
	meta.Store
	obs *observer
}

// Unwrap returns the store it wraps, so that the core finds what it can do
// beyond meta.Store (meta.Watcher).
func (m observedMeta) Unwrap() meta.Store { return m.Store }

// failed counts err unless it is one of the store's expected answers.
func (m observedMeta) failed(op string, err error) error {
	if err != nil && !errors.Is(err, meta.ErrNotFound) && !errors.Is(err, meta.ErrConflict) &&
		!errors.Is(err, meta.ErrExists) && !errors.Is(err, context.Canceled) {
		m.obs.storeErrors.WithLabelValues("meta", op).Inc()
	}
	return err
}

func (m observedMeta) Claim(ctx context.Context, f meta.File) (meta.File, bool, error) {
	rec, created, err := m.Store.Claim(ctx, f)
	if err == nil && created {
		m.obs.transition("none", string(meta.StatusPending))
	}
	return rec, created, m.failed("claim", err)
}

func (m observedMeta) Get(ctx context.Context, tenant, id string) (meta.File, error) {
	f, err := m.Store.Get(ctx, tenant, id)
	return f, m.failed("get", err)
}

func (m observedMeta) Find(ctx context.Context, tenant string, ids, hashes []string) ([]meta.File, error) {
	fs, err := m.Store.Find(ctx, tenant, ids, hashes)
	return fs, m.failed("find", err)
}

func (m observedMeta) HasSize(ctx context.Context, tenant string, size int64) (bool, error) {
	ok, err := m.Store.HasSize(ctx, tenant, size)
	return ok, m.failed("has_size", err)
}

func (m observedMeta) Usage(ctx context.Context, tenant string) (meta.Usage, error) {
	u, err := m.Store.Usage(ctx, tenant)
	return u, m.failed("usage", err)
}

func (m observedMeta) List(ctx context.Context, tenant string, q meta.ListQuery) ([]meta.File, error) {
	fs, err := m.Store.List(ctx, tenant, q)
	return fs, m.failed("list", err)
}

func (m observedMeta) Transition(ctx context.Context, id string, u meta.Update) (meta.File, error) {
	f, err := m.Store.Transition(ctx, id, u)
	if err == nil {
		m.obs.transition(string(u.From), string(u.To))
	}
	return f, m.failed("transition", err)
}

func (m observedMeta) Delete(ctx context.Context, tenant, id string) (meta.File, error) {
	f, err := m.Store.Delete(ctx, tenant, id)
	if err == nil {
		m.obs.transition(string(f.Status), "deleted")
	}
	return f, m.failed("delete", err)
}

func (m observedMeta) DeleteStale(ctx context.Context, tenant, id string, st meta.Status, before time.Time) (meta.File, error) {
	f, err := m.Store.DeleteStale(ctx, tenant, id, st, before)
	if err == nil {
		m.obs.transition(string(f.Status), "deleted")
	}
	return f, m.failed("delete_stale", err)
}

func (m observedMeta) Stale(ctx context.Context, s meta.Status, before time.Time, limit int) ([]meta.File, error) {
	fs, err := m.Store.Stale(ctx, s, before, limit)
	return fs, m.failed("stale", err)
}

func (m observedMeta) Exists(ctx context.Context, id string) (bool, error) {
	ok, err := m.Store.Exists(ctx, id)
	return ok, m.failed("exists", err)
}

func (m observedMeta) KeyByHash(ctx context.Context, hash string) (meta.Key, error) {
	k, err := m.Store.KeyByHash(ctx, hash)
	return k, m.failed("key_by_hash", err)
}

func (m observedMeta) Ping(ctx context.Context) error {
	return m.failed("ping", m.Store.Ping(ctx))
}
