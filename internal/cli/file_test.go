package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// unavailableFor is an API server whose find answers 503 to the first
// failures requests and an empty list after; it counts the requests.
func unavailableFor(t *testing.T, failures int32) (string, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) <= failures {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"code":"unavailable","message":"a storage backend is unavailable; retry later"}`))
			return
		}
		w.Write([]byte(`{"files":[]}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &calls
}

func TestRetryForBoundsHowLongClientCommandsRetry(t *testing.T) {
	tests := []struct {
		name      string
		flags     []string
		env       string // PERSEUS_RETRY_FOR, when not empty
		failures  int32  // 503s before the server answers
		wantCode  int
		wantCalls func(n int32) bool
		minTime   time.Duration
	}{
		{"default: rides out a short outage", nil, "", 2, 0, func(n int32) bool { return n == 3 }, 0},
		{"--retry-for 0 disables retries", []string{"--retry-for", "0"}, "", 1 << 30, 1, func(n int32) bool { return n == 1 }, 0},
		{"PERSEUS_RETRY_FOR=0 disables retries", nil, "0", 1 << 30, 1, func(n int32) bool { return n == 1 }, 0},
		{"--retry-for retries for that long, then gives up", []string{"--retry-for", "400ms"}, "", 1 << 30, 1,
			func(n int32) bool { return n >= 2 }, 400 * time.Millisecond},
		{"the flag wins over the environment", []string{"--retry-for", "0"}, "1h", 1 << 30, 1, func(n int32) bool { return n == 1 }, 0},
		{"a negative duration is a usage error", []string{"--retry-for", "-1s"}, "", 0, 2, func(n int32) bool { return n == 0 }, 0},
		{"a malformed environment is a usage error", nil, "soon", 0, 2, func(n int32) bool { return n == 0 }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PERSEUS_RETRY_FOR", tt.env)
			if tt.env == "" {
				os.Unsetenv("PERSEUS_RETRY_FOR")
			}
			host, calls := unavailableFor(t, tt.failures)
			args := append([]string{"file", "find", "--id", "x", "--host", host, "--api-key", "k"}, tt.flags...)
			var out, errb bytes.Buffer
			start := time.Now()
			code := Main(args, &out, &errb)
			if code != tt.wantCode || !tt.wantCalls(calls.Load()) {
				t.Errorf("perseus %v: exit %d after %d requests, stderr %q; want exit %d", args, code, calls.Load(), errb.String(), tt.wantCode)
			}
			if elapsed := time.Since(start); elapsed < tt.minTime {
				t.Errorf("gave up after %v, want at least %v", elapsed, tt.minTime)
			}
		})
	}
}
