package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/meta"
)

// Arrivals: a store that sends event notifications (versitygw, MinIO and
// Ceph post them to a webhook; the server takes them at POST
// /api/v0/s3/events) tells the core of each object written to it, so that
// a direct upload is verified the moment its bytes are in rather than when
// the listing next comes by. The listing (VerifyDirect) stays, as the
// safety net for a notification lost: slow when Config.Notified (every
// minute by default), and done by one replica at a time (listStaged).

const (
	// arrivalQueue bounds the staging keys notified and not yet verified;
	// beyond it a notification is left to the listing (ArrivalDeferred).
	arrivalQueue = 1024
	// arrivalWorkers verify notified keys at once, as VerifyDirect does
	// the keys it lists.
	arrivalWorkers = 4

	// verifyLease names the lock held by the one replica that lists the
	// staging area when arrivals are notified.
	verifyLease = "sweep/verify-direct"
	// leaseTry bounds one try to take the lease: the lock waits while
	// another replica holds it. Long enough for a first lock's connection.
	leaseTry = 500 * time.Millisecond
	// leaseRetry is the least time between a standby replica's tries.
	leaseRetry = 5 * time.Second
	// leaseTerm is how long the lease is held before it is let go and
	// taken again at once, so that a holder whose session was lost (a
	// database restart frees its locks) learns it within a term instead of
	// listing beside the next holder for ever.
	leaseTerm = 5 * time.Minute
)

// Arrival says what Arrived did with a notified object.
type Arrival int

const (
	// ArrivalIgnored: no direct upload of this core's store (another
	// bucket, outside the store's prefix, not a staging key), or a store
	// that names no notified objects (blob.Locator).
	ArrivalIgnored Arrival = iota
	// ArrivalQueued: to be verified at once, by Run.
	ArrivalQueued
	// ArrivalDeferred: a direct upload, but too many wait to be verified:
	// the listing verifies it when it next comes by.
	ArrivalDeferred
)

// Arrived takes the notification that object (its full key, decoded) was
// written in bucket, and queues it for verification if it is a direct
// upload to this core's store. It does not wait: Run's workers verify
// (VerifyStaged). A notification lost or refused costs only time: the
// listing finds what it told of.
func (c *Core) Arrived(bucket, object string) Arrival {
	if c.locate == nil {
		return ArrivalIgnored
	}
	key, ok := c.locate.KeyOf(bucket, object)
	if !ok {
		return ArrivalIgnored
	}
	if _, _, err := keys.Staged(key); err != nil {
		return ArrivalIgnored
	}
	select {
	case c.arrived <- key:
		return ArrivalQueued
	default:
		c.cfg.Logger.Warn("too many notified direct uploads wait to be verified: the listing will verify this one", "key", key)
		return ArrivalDeferred
	}
}

// verifyArrivals verifies notified staging keys until ctx ends.
func (c *Core) verifyArrivals(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case key := <-c.arrived:
			if err := c.VerifyStaged(ctx, key); err != nil && ctx.Err() == nil {
				c.cfg.Logger.Warn("verify notified direct upload", "key", key, "err", err)
			}
		}
	}
}

// listStaged runs VerifyDirect every VerifyInterval until ctx ends. When
// arrivals are notified and the metadata store locks for every process
// (meta.Locker), only the replica holding the lease lists: the listing is
// a safety net then, and one replica listing is enough. The holder keeps
// the lease while it lives (a lock held round after round, not taken for
// each: rounds that last milliseconds would seldom meet, and every replica
// would list); the others try to take it every VerifyInterval, at least
// leaseRetry, so that one takes over within that once the holder is gone.
func (c *Core) listStaged(ctx context.Context) {
	l, ok := lockerOf(c.meta)
	if !c.cfg.Notified || !ok {
		c.every(ctx, c.cfg.VerifyInterval, "scan of direct uploads", c.VerifyDirect)
		return
	}
	var unlock func() error // nil: not held
	var since time.Time
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if unlock != nil && time.Since(since) >= leaseTerm {
			err := unlock()
			unlock = nil
			if err != nil && ctx.Err() == nil {
				c.cfg.Logger.Warn("lease of the listing of direct uploads", "err", err)
			}
		}
		if unlock == nil {
			unlock = c.takeLease(ctx, l)
			since = time.Now()
		}
		wait := c.cfg.VerifyInterval
		if unlock != nil {
			if err := c.VerifyDirect(ctx); err != nil && ctx.Err() == nil {
				c.cfg.Logger.Warn("scan of direct uploads failed", "err", err)
			}
		} else {
			wait = max(wait, leaseRetry)
		}
		t.Reset(wait)
	}
}

// takeLease tries to take the lease of the listing, for at most leaseTry,
// and returns how to let it go, or nil if another replica holds it (or the
// store failed, which is logged).
func (c *Core) takeLease(ctx context.Context, l meta.Locker) func() error {
	tctx, cancel := context.WithTimeout(ctx, leaseTry)
	defer cancel()
	unlock, err := l.Lock(tctx, verifyLease, nil)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			c.cfg.Logger.Warn("lease of the listing of direct uploads", "err", err)
		}
		return nil
	}
	return unlock
}
