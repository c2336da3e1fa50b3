package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// request sends method path with key (none if empty) and returns the
// status, the Retry-After header and the error code, if any.
func (e *testEnv) request(method, path, key string) (int, string, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Code, Message string }
	json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode >= 400 && body.Message == "" {
		e.t.Errorf("%s %s: %d without a message", method, path, res.StatusCode)
	}
	return res.StatusCode, res.Header.Get("Retry-After"), body.Code
}

func TestRateLimitAnswers429WithRetryAfterPerKeyAfterTheBurst(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimit, c.RateBurst = 0.5, 3 })
	for i := range 3 {
		if status, _, _ := e.request("GET", "/api/v0/file", keyA); status != http.StatusOK {
			t.Fatalf("request %d of a burst of 3: %d", i+1, status)
		}
	}
	status, after, code := e.request("GET", "/api/v0/file", keyA)
	secs, err := strconv.Atoi(after)
	if status != http.StatusTooManyRequests || code != "rate_limited" || err != nil || secs < 1 || secs > 2 {
		t.Fatalf("request past the burst: %d %s, Retry-After %q; want 429 rate_limited, Retry-After 1 or 2 (a request every 2 s)", status, code, after)
	}
	// Another key, of another tenant, has a bucket of its own.
	if status, _, _ := e.request("GET", "/api/v0/limits", keyB); status != http.StatusOK {
		t.Errorf("another key: %d, want 200", status)
	}
	// Unknown keys are refused before the limit, and make no bucket.
	if status, _, _ := e.request("GET", "/api/v0/file", "no-such-key"); status != http.StatusUnauthorized {
		t.Errorf("unknown key: %d, want 401", status)
	}
	if n := e.srv.rate.Held(); n != 2 {
		t.Errorf("%d buckets held, want 2: one per key that was let in", n)
	}
	// Operations carry no key and are not limited.
	for range 10 {
		for _, p := range []string{"/healthz", "/readyz", "/metrics", "/api/v0/openapi.json"} {
			if status, _, _ := e.request("GET", p, ""); status != http.StatusOK {
				t.Fatalf("GET %s: %d, want 200", p, status)
			}
		}
	}
}

func TestRateLimitLetsAKeyInAgainAfterRetryAfter(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimit, c.RateBurst = 2, 1 })
	if status, _, _ := e.request("GET", "/api/v0/file", keyA); status != http.StatusOK {
		t.Fatalf("first request: %d", status)
	}
	status, after, _ := e.request("GET", "/api/v0/file", keyA)
	if status != http.StatusTooManyRequests || after != "1" {
		t.Fatalf("second request at once: %d, Retry-After %q; want 429 and 1 (whole seconds, at least 1)", status, after)
	}
	time.Sleep(time.Second)
	if status, _, _ := e.request("GET", "/api/v0/file", keyA); status != http.StatusOK {
		t.Fatalf("after Retry-After: %d, want 200", status)
	}
}

// TestRateLimitLeavesUploadURLsAlone: the bytes of a file go to its upload
// URL, which carries no key, however many requests its key has made.
func TestRateLimitLeavesUploadURLsAlone(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 2 })
	content := []byte("sent past the rate")
	c := e.create(keyA, "f.bin", content)
	if c.status != http.StatusCreated {
		t.Fatalf("create: %d %s", c.status, c.body)
	}
	e.request("GET", "/api/v0/file", keyA)
	if status, _, _ := e.request("GET", "/api/v0/file", keyA); status != http.StatusTooManyRequests {
		t.Fatalf("third request: %d, want 429", status)
	}
	for i := range 3 {
		if r := e.put(c.UploadURL, content); r.status != http.StatusOK && !(i > 0 && r.status == http.StatusConflict) {
			t.Fatalf("PUT %d to the upload URL: %d %s", i+1, r.status, r.body)
		}
	}
}
