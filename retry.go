package perseus

import (
	"context"
	"errors"
	"io"
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

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
		status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// do runs send until it gets an answer that is not worth retrying, then hands
// it to handle. The response body is always closed.
func (p RetryPolicy) do(ctx context.Context, send func() (*http.Response, error), handle func(*http.Response) error) error {
	for attempt := 1; ; attempt++ {
		resp, err := send()
		last := attempt >= p.MaxAttempts
		if err != nil {
			if ctx.Err() != nil || last || errors.Is(err, errNoRetry) {
				return err
			}
			if serr := sleep(ctx, p.backoff(attempt, 0)); serr != nil {
				return err
			}
			continue
		}
		if !retryable(resp.StatusCode) || last {
			err := handle(resp)
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			return err
		}
		wait := p.backoff(attempt, retryAfter(resp))
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

var errNoRetry = errors.New("perseus: not retryable")

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
