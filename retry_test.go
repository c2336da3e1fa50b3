package perseus

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// closeConnection makes the client see a network error: the connection is
// dropped without an answer.
func closeConnection(t *testing.T, w http.ResponseWriter) {
	t.Helper()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

// handleFindFailingFirst answers the first n finds with fail and the rest
// with no files, and counts the calls.
func handleFindFailingFirst(mux *http.ServeMux, n int32, fail http.HandlerFunc) *atomic.Int32 {
	var calls atomic.Int32
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			fail(w, r)
			return
		}
		writeJSON(w, http.StatusOK, `{"files":[]}`)
	})
	return &calls
}

func answer(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, status, `{"message":"`+http.StatusText(status)+`"}`)
	}
}

func TestRetry_transientStatusesAreRetried(t *testing.T) {
	for _, status := range []int{408, 429, 502, 503, 504} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			client, mux, _ := setup(t)
			calls := handleFindFailingFirst(mux, 1, answer(status))
			if _, err := client.File.FindFiles(t.Context(), FindQuery{}); err != nil {
				t.Fatalf("FindFiles: %v", err)
			}
			if calls.Load() != 2 {
				t.Errorf("requests = %d, want 2", calls.Load())
			}
		})
	}
}

func TestRetry_otherErrorsAreNotRetried(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 409, 422, 500} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			client, mux, _ := setup(t)
			calls := handleFindFailingFirst(mux, 1, answer(status))
			_, err := client.File.FindFiles(t.Context(), FindQuery{})
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != status {
				t.Errorf("FindFiles = %v, want an *APIError with status %d", err, status)
			}
			if calls.Load() != 1 {
				t.Errorf("requests = %d, want exactly 1", calls.Load())
			}
		})
	}
}

func TestRetry_honoursRetryAfterSeconds(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	client, mux, _ := setup(t, WithHTTPClient(&http.Client{Transport: &arrivals{next: http.DefaultTransport, mu: &mu, at: &at}}))
	handleFindFailingFirst(mux, 1, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		answer(http.StatusTooManyRequests)(w, r)
	})
	if _, err := client.File.FindFiles(t.Context(), FindQuery{}); err != nil {
		t.Fatalf("FindFiles: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(at) != 2 {
		t.Fatalf("requests = %d, want 2", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < time.Second || gap > 5*time.Second {
		t.Errorf("retry came %v after a 429 with Retry-After: 1, want about 1s", gap)
	}
}

// arrivals records when each request is sent.
type arrivals struct {
	next http.RoundTripper
	mu   *sync.Mutex
	at   *[]time.Time
}

func (a *arrivals) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	*a.at = append(*a.at, time.Now())
	a.mu.Unlock()
	return a.next.RoundTrip(r)
}

func TestRetry_networkErrorIsRetried(t *testing.T) {
	client, mux, _ := setup(t)
	calls := handleFindFailingFirst(mux, 1, func(w http.ResponseWriter, r *http.Request) { closeConnection(t, w) })
	if _, err := client.File.FindFiles(t.Context(), FindQuery{}); err != nil {
		t.Fatalf("FindFiles after a dropped connection: %v", err)
	}
	if calls.Load() != 2 {
		t.Errorf("requests = %d, want 2", calls.Load())
	}
}

func TestRetry_givesUpAfterMaxAttempts(t *testing.T) {
	tests := []struct {
		name       string
		fail       func(t *testing.T) http.HandlerFunc
		wantStatus int // 0: a network error
	}{
		{"unavailable", func(*testing.T) http.HandlerFunc { return answer(503) }, 503},
		{"network error", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { closeConnection(t, w) }
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t) // fastRetry: 3 attempts
			calls := handleFindFailingFirst(mux, 100, tt.fail(t))
			_, err := client.File.FindFiles(t.Context(), FindQuery{})
			if err == nil {
				t.Fatal("FindFiles succeeded, want an error")
			}
			var ae *APIError
			if isAPI := errors.As(err, &ae); isAPI != (tt.wantStatus != 0) || (isAPI && ae.StatusCode != tt.wantStatus) {
				t.Errorf("FindFiles = %v, want status %d (0: a network error)", err, tt.wantStatus)
			}
			if calls.Load() != int32(fastRetry.MaxAttempts) {
				t.Errorf("requests = %d, want MaxAttempts = %d", calls.Load(), fastRetry.MaxAttempts)
			}
		})
	}
}

// failingFor answers fail until d has passed since the first request, then
// hands the request to ok; it counts the requests.
func failingFor(d time.Duration, fail, ok http.HandlerFunc) (http.HandlerFunc, *atomic.Int32) {
	var calls atomic.Int32
	var mu sync.Mutex
	var first time.Time
	return func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		mu.Lock()
		if first.IsZero() {
			first = time.Now()
		}
		down := time.Since(first) < d
		mu.Unlock()
		if down {
			fail(w, r)
			return
		}
		ok(w, r)
	}, &calls
}

func TestRetry_ridesOutAnOutageShorterThanMaxElapsed(t *testing.T) {
	tests := []struct {
		name string
		fail func(t *testing.T) http.HandlerFunc
	}{
		{"unavailable", func(*testing.T) http.HandlerFunc { return answer(503) }},
		{"network error", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { closeConnection(t, w) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Far more attempts than 3 (fastRetry), and no cap on them.
			policy := RetryPolicy{BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxElapsed: 10 * time.Second}
			client, mux, _ := setup(t, WithRetry(policy))
			h, calls := failingFor(300*time.Millisecond, tt.fail(t), func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"files":[]}`)
			})
			mux.HandleFunc("POST /api/v0/file/find", h)
			if _, err := client.File.FindFiles(t.Context(), FindQuery{}); err != nil {
				t.Fatalf("FindFiles across a 300 ms outage: %v", err)
			}
			if calls.Load() <= int32(fastRetry.MaxAttempts) {
				t.Errorf("requests = %d, want more than %d: the budget, not a count, bounds the retries", calls.Load(), fastRetry.MaxAttempts)
			}
		})
	}
}

func TestRetry_givesUpOnceMaxElapsedHasPassed(t *testing.T) {
	const budget = 200 * time.Millisecond
	client, mux, _ := setup(t, WithRetry(RetryPolicy{BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxElapsed: budget}))
	calls := handleFindFailingFirst(mux, 1<<30, answer(503))
	start := time.Now()
	_, err := client.File.FindFiles(t.Context(), FindQuery{})
	elapsed := time.Since(start)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 {
		t.Fatalf("FindFiles = %v, want the last 503", err)
	}
	if elapsed < budget || elapsed > 5*time.Second {
		t.Errorf("gave up after %v, want soon after MaxElapsed = %v", elapsed, budget)
	}
	if calls.Load() < 3 {
		t.Errorf("requests = %d, want several within the budget", calls.Load())
	}
}

func TestRetry_maxElapsedBoundsRetryAfter(t *testing.T) {
	client, mux, _ := setup(t, WithRetry(RetryPolicy{BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxElapsed: 300 * time.Millisecond}))
	calls := handleFindFailingFirst(mux, 1<<30, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		answer(503)(w, r)
	})
	start := time.Now()
	if _, err := client.File.FindFiles(t.Context(), FindQuery{}); err == nil {
		t.Fatal("FindFiles succeeded, want the 503")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("gave up after %v; a Retry-After of 30 s must not outlast a budget of 300 ms", elapsed)
	}
	if calls.Load() != 2 {
		t.Errorf("requests = %d, want 2: one more as the budget ends", calls.Load())
	}
}

func TestRetry_maxAttemptsStillBoundsABudget(t *testing.T) {
	client, mux, _ := setup(t, WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxElapsed: time.Minute}))
	calls := handleFindFailingFirst(mux, 1<<30, answer(503))
	if _, err := client.File.FindFiles(t.Context(), FindQuery{}); err == nil {
		t.Fatal("FindFiles succeeded, want the 503")
	}
	if calls.Load() != 2 {
		t.Errorf("requests = %d, want MaxAttempts = 2", calls.Load())
	}
}

// A store's 500 (S3's InternalError: "please try again") is retried at a
// URL the server handed out; the API's own 500 is a bug, and is not.
func TestRetry_storeInternalErrorIsRetried(t *testing.T) {
	client, mux, srvURL := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("PUT /store/object", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "<Error><Code>InternalError</Code></Error>")
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	err := client.do(t.Context(), request{method: http.MethodPut, url: srvURL + baseURLPath + "/store/object"}, nil)
	if err != nil {
		t.Fatalf("PUT to a store URL after its 500: %v", err)
	}
	if calls.Load() != 2 {
		t.Errorf("requests = %d, want 2", calls.Load())
	}
}

func TestRetry_zeroPolicyDisablesRetries(t *testing.T) {
	client, mux, _ := setup(t, WithRetry(RetryPolicy{}))
	calls := handleFindFailingFirst(mux, 1, answer(503))
	if _, err := client.File.FindFiles(t.Context(), FindQuery{}); err == nil {
		t.Error("FindFiles succeeded, want the 503")
	}
	if calls.Load() != 1 {
		t.Errorf("requests = %d, want 1", calls.Load())
	}
}

func TestRetry_contextEndsTheWait(t *testing.T) {
	client, mux, _ := setup(t)
	handleFindFailingFirst(mux, 100, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		answer(503)(w, r)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.File.FindFiles(ctx, FindQuery{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("FindFiles = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("FindFiles returned after %v, want soon after the context ended", elapsed)
	}
}

func TestRetry_resendsTheSameBody(t *testing.T) {
	client, mux, _ := setup(t)
	var mu sync.Mutex
	var bodies []string
	var calls atomic.Int32
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if calls.Add(1) == 1 {
			answer(502)(w, r)
			return
		}
		writeJSON(w, http.StatusOK, `{"files":[]}`)
	})
	if _, err := client.File.FindFiles(t.Context(), FindQuery{IDs: []string{"a", "b"}}); err != nil {
		t.Fatalf("FindFiles: %v", err)
	}
	want := []string{`{"ids":["a","b"]}`, `{"ids":["a","b"]}`}
	if diff := cmp.Diff(want, bodies); diff != "" {
		t.Errorf("request bodies mismatch (-want +got):\n%s", diff)
	}
}

func TestRetryPolicy_backoffStaysWithinBounds(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 100, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	for attempt := 1; attempt <= 70; attempt++ { // 70: the shift overflows
		limit := min(p.BaseDelay<<min(attempt-1, 20), p.MaxDelay)
		for range 20 {
			if d := p.backoff(attempt, 0); d < limit/10 || d > limit+limit/10 {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, limit/10, limit+limit/10)
			}
		}
	}
	if d := p.backoff(1, 3*time.Second); d != 3*time.Second {
		t.Errorf("backoff with Retry-After 3s = %v, want 3s", d)
	}
	if d := (RetryPolicy{}).backoff(1, 0); d != 0 {
		t.Errorf("backoff of the zero policy = %v, want 0", d)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		header   string
		min, max time.Duration
	}{
		{"", 0, 0},
		{"0", 0, 0},
		{"3", 3 * time.Second, 3 * time.Second},
		{"-1", 0, 0},
		{"soon", 0, 0},
		{time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), 58 * time.Minute, time.Hour},
		{time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 0, 0},
	}
	for _, tt := range tests {
		resp := &http.Response{Header: http.Header{}}
		if tt.header != "" {
			resp.Header.Set("Retry-After", tt.header)
		}
		if got := retryAfter(resp); got < tt.min || got > tt.max {
			t.Errorf("retryAfter(%q) = %v, want within [%v, %v]", tt.header, got, tt.min, tt.max)
		}
	}
}
