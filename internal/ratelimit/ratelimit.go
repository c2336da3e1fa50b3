// Package ratelimit holds each key to a request rate: a token bucket per key, kept only while it is in use.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// PerKey is a token bucket per key. Only keys the caller hands it get
// one (the server: API keys auth resolved), so it holds at most as many as there are keys; and a bucket that
// has filled up again is the same as a new one, so it is dropped, and only
// keys used within the time a bucket takes to fill are held.
type PerKey struct {
	limit rate.Limit
	burst int
	fill  time.Duration // how long an emptied bucket takes to fill: how often buckets are swept

	mu    sync.Mutex
	keys  map[string]*rate.Limiter
	swept time.Time
}

// DefaultBurst is the burst of a rate given without one: a second's worth
// of requests, at least one.
func DefaultBurst(perSecond float64) int { return max(1, int(math.Ceil(perSecond))) }

// New returns a limiter of perSecond requests per key in bursts
// of burst, or nil for no limit (perSecond 0).
func New(perSecond float64, burst int) *PerKey {
	if perSecond <= 0 {
		return nil
	}
	fill := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &PerKey{limit: rate.Limit(perSecond), burst: burst, fill: max(fill, time.Second),
		keys: map[string]*rate.Limiter{}, swept: time.Now()}
}

// Wait takes one request of key at now from its bucket and returns 0, or
// returns how long the key must wait for one and takes nothing.
func (l *PerKey) Wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= l.fill {
		l.sweep(now)
	}
	b := l.keys[key]
	if b == nil {
		b = rate.NewLimiter(l.limit, l.burst)
		l.keys[key] = b
	}
	r := b.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d > 0 {
		r.CancelAt(now)
	}
	return d
}

// sweep drops every bucket that is full at now.
func (l *PerKey) sweep(now time.Time) {
	for k, b := range l.keys {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.keys, k)
		}
	}
	l.swept = now
}

// Held returns how many buckets the limiter holds.
func (l *PerKey) Held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
