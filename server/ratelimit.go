package server

import (
	"math"
	"net/http"
	"strconv"
	"time"
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

// allow reports whether key may make a request now; if not, it has
// answered 429 with Retry-After, in whole seconds, at least 1.
func (s *Server) allow(w http.ResponseWriter, key string) bool {
	if s.rate == nil {
		return true
	}
	d := s.rate.Wait(HashKey(key), time.Now())
	if d <= 0 {
		return true
	}
	secs := max(1, int64(math.Ceil(d.Seconds())))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, ErrRateLimited.With("more than %g requests per second (in bursts of %d) with this API key: retry in %d s (Retry-After)",
		s.cfg.RateLimit, s.cfg.RateBurst, secs))
	return false
}
