package server

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The request rate of each API key is held to Config.RateLimit per second,
// with bursts of Config.RateBurst: a token bucket per key, taken from after
// auth has resolved the key (auth), so unknown keys, answered 401, make
// none. What carries no key is not limited: health, readiness, metrics and
// the OpenAPI document, and the upload and part URLs, which this server
// signed for one file each in answer to a request that was limited (a
// create, a multipart start, a request for part URLs), so that the bytes of
// a file are never held back by the rate of the calls that describe it;
// what they may store is bounded by the quotas instead. Each replica keeps
// buckets of its own: behind a load balancer that spreads a key's requests
// over n replicas, the key may make up to n times the rate.

// keyLimiter is a token bucket per API key. Only keys auth resolved get
// one, so it holds at most as many as there are keys; and a bucket that
// has filled up again is the same as a new one, so it is dropped, and only
// keys used within the time a bucket takes to fill are held.
type keyLimiter struct {
	limit rate.Limit
	burst int
	fill  time.Duration // how long an emptied bucket takes to fill: how often buckets are swept

	mu    sync.Mutex
	keys  map[string]*rate.Limiter // by the key's hash (HashKey)
	swept time.Time
}

// defaultBurst is the burst of a rate given without one: a second's worth
// of requests, at least one.
func defaultBurst(perSecond float64) int { return max(1, int(math.Ceil(perSecond))) }

// newKeyLimiter returns a limiter of perSecond requests per key in bursts
// of burst, or nil for no limit (perSecond 0).
func newKeyLimiter(perSecond float64, burst int) *keyLimiter {
	if perSecond <= 0 {
		return nil
	}
	fill := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &keyLimiter{limit: rate.Limit(perSecond), burst: burst, fill: max(fill, time.Second),
		keys: map[string]*rate.Limiter{}, swept: time.Now()}
}

// wait takes one request of key at now from its bucket and returns 0, or
// returns how long the key must wait for one and takes nothing.
func (l *keyLimiter) wait(key string, now time.Time) time.Duration {
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
func (l *keyLimiter) sweep(now time.Time) {
	for k, b := range l.keys {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.keys, k)
		}
	}
	l.swept = now
}

// held returns how many buckets the limiter holds.
func (l *keyLimiter) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// allow reports whether key may make a request now; if not, it has
// answered 429 with Retry-After, in whole seconds, at least 1.
func (s *Server) allow(w http.ResponseWriter, key string) bool {
	if s.rate == nil {
		return true
	}
	d := s.rate.wait(HashKey(key), time.Now())
	if d <= 0 {
		return true
	}
	secs := max(1, int64(math.Ceil(d.Seconds())))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, ErrRateLimited.With("more than %g requests per second (in bursts of %d) with this API key: retry in %d s (Retry-After)",
		s.cfg.RateLimit, s.cfg.RateBurst, secs))
	return false
}
