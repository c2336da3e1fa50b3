package perseus

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// RetryPolicy says how a request that failed for a reason a retry can fix
// is tried again: exponential backoff with full jitter, honouring
// Retry-After, until MaxElapsed has passed since the request first failed
// or MaxAttempts attempts have been made, whichever comes first. A policy
// with neither limit retries nothing: RetryPolicy{} disables retries.
//
// What a retry can fix: a network error (connection refused or reset, an
// answer cut short); 408, 429, 502, 503 and 504; and 500 from a store, at
// a URL the server handed out (S3's InternalError says to try again). Other
// errors come back at once.
type RetryPolicy struct {
	MaxAttempts int           // attempts in all, including the first; 0: no limit but MaxElapsed
	BaseDelay   time.Duration // first backoff
	MaxDelay    time.Duration // cap on one backoff
	// MaxElapsed is how long a request is retried after it first failed:
	// the longest outage of the server or of its stores that it rides out.
	// No wait goes past it. 0: no limit but MaxAttempts.
	MaxElapsed time.Duration
}

// DefaultRetry is the policy of a new Client: it rides out an outage of up
// to a minute, trying again after 0.2 s, 0.4 s, … up to 5 s apart.
var DefaultRetry = RetryPolicy{BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Second, MaxElapsed: time.Minute}

// retries reports whether the policy retries anything.
func (p RetryPolicy) retries() bool { return p.MaxAttempts > 1 || p.MaxElapsed > 0 }

// retryable reports whether an answer with this status is worth sending
// again; store is true for a URL the server handed out (a store's).
func retryable(status int, store bool) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusInternalServerError:
		return store
	}
	return false
}

// backoff returns the wait before attempt+1: the server's Retry-After when it
// gave one, otherwise a random time up to BaseDelay·2^(attempt-1), capped.
func (p RetryPolicy) backoff(attempt int, after time.Duration) time.Duration {
	if after > 0 {
		return after // the server knows best; the budget and ctx bound the wait
	}
	d := p.BaseDelay
	for i := 1; i < attempt && d > 0 && d < p.MaxDelay; i++ {
		d *= 2
	}
	if d > p.MaxDelay || d <= 0 {
		d = p.MaxDelay
	}
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d))) + d/10
}

// retryClock is one request's retries under a policy: how many attempts
// were made and when the first failed.
type retryClock struct {
	p        RetryPolicy
	attempt  int       // attempts made
	failedAt time.Time // when the first attempt failed; zero before
}

// next is called after attempt number c.attempt failed, with the wait the
// server asked for (0 when it did not): it returns how long to wait before
// trying again, or false when the policy gives up.
func (c *retryClock) next(after time.Duration) (time.Duration, bool) {
	if c.failedAt.IsZero() {
		c.failedAt = time.Now()
	}
	p := c.p
	if !p.retries() || p.MaxAttempts > 0 && c.attempt >= p.MaxAttempts {
		return 0, false
	}
	wait := p.backoff(c.attempt, after)
	if p.MaxElapsed > 0 {
		left := p.MaxElapsed - time.Since(c.failedAt)
		if left <= 0 {
			return 0, false
		}
		wait = min(wait, left) // one last attempt as the budget ends
	}
	return wait, true
}

// retryAfter reads how long the server asks to wait before trying again
// (Retry-After, in seconds or as a date); 0 when it does not say.
func retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
