package ingest

import (
	"context"
	"sync"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/meta"
)

// LockResumable takes the lock of tenant's resumable upload id, so that
// one request at a time works on it. Where the metadata store locks for
// every process sharing it (meta.Locker), so does this: a resumed upload
// may reach any replica. While another request waits for the lock,
// release is called, once, so that the holder (a request whose client has
// gone, say) can let go soon. unlock lets go.
func (c *Core) LockResumable(ctx context.Context, tenant, id string, release func()) (unlock func() error, err error) {
	name := keys.Resumable(tenant, id)
	if l, ok := lockerOf(c.meta); ok {
		return l.Lock(ctx, name, release)
	}
	u, err := c.locks.Lock(ctx, name)
	if err != nil {
		return nil, err
	}
	once := sync.OnceFunc(u)
	return func() error { once(); return nil }, nil
}

// lockerOf returns m, or the store it wraps, as a meta.Locker.
func lockerOf(m meta.Store) (meta.Locker, bool) {
	for {
		if l, ok := m.(meta.Locker); ok {
			return l, true
		}
		u, ok := m.(interface{ Unwrap() meta.Store })
		if !ok {
			return nil, false
		}
		m = u.Unwrap()
	}
}
