package perseus

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// RetryPolicy says how a request that failed for a reason a retry can fix
// (a network error, 429, 502, 503, 504) is tried again: exponential backoff
// with full jitter, honouring Retry-After. Other errors come back at once.
type RetryPolicy struct {
	MaxAttempts int           // attempts in all, including the first; 0 or 1: no retry
	BaseDelay   time.Duration // first backoff
	MaxDelay    time.Duration // cap on one backoff
}

// DefaultRetry is the policy of a new Client.
var DefaultRetry = RetryPolicy{MaxAttempts: 6, BaseDelay: 200 * time.Millisecond, MaxDelay: 10 * time.Second}

// retryable reports whether an answer with this status is worth sending again.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
		status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// backoff returns the wait before attempt+1: the server's Retry-After when it
// gave one, otherwise a random time up to BaseDelay·2^(attempt-1), capped.
func (p RetryPolicy) backoff(attempt int, after time.Duration) time.Duration {
	if after > 0 {
		return after // the server knows best; ctx bounds the wait
	}
	d := p.BaseDelay << (attempt - 1)
	if d > p.MaxDelay || d <= 0 {
		d = p.MaxDelay
	}
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d))) + d/10
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
