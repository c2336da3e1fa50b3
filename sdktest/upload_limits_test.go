package sdktest

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/server"
)

// limited counts, by route, the answers 429 with Retry-After a client got.
type limited struct {
	mu   sync.Mutex
	n    map[string]int
	bare int // 429s without a Retry-After of at least one whole second
}

func (l *limited) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && res.StatusCode == http.StatusTooManyRequests {
		l.mu.Lock()
		l.n[route(r)]++
		if v := res.Header.Get("Retry-After"); v == "" || v == "0" {
			l.bare++
		}
		l.mu.Unlock()
	}
	return res, err
}

// TestUploadFile_finishesUnderTheServersRateLimit: a server that lets each
// API key make 4 requests a second, in bursts of 3, answers some of a
// client's quick calls 429 with Retry-After: 1 (the first, at least, with
// the burst spent before); the client waits as told, and a file in one PUT
// and a file in parts both end uploaded. Upload and part URLs are never
// limited.
func TestUploadFile_finishesUnderTheServersRateLimit(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		l := &limited{n: map[string]int{}}
		c := e.client(l, perseus.WithRetry(perseus.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}))
		for range 3 { // the key's burst, spent: the client's first call is answered 429
			req, _ := http.NewRequest("GET", e.url+"/api/v0/file", nil)
			req.Header.Set("Authorization", "Bearer "+envKey)
			if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("request within the burst: %v, %v", res, err)
			} else {
				res.Body.Close()
			}
		}
		small, smallContent := writeRandom(t, "small.bin", 1000)
		big, bigContent := writeRandom(t, "big.bin", int(2*e.part+5))
		for _, up := range []struct {
			path    string
			content []byte
		}{{small, smallContent}, {big, bigContent}} {
			f, err := c.File.UploadFile(t.Context(), up.path, perseus.WithPartSize(e.part))
			if err != nil {
				t.Fatalf("UploadFile(%s) under the rate limit: %v", up.path, err)
			}
			if f, err = c.File.WaitForFileUpload(t.Context(), f.ID); err != nil || f.Status != perseus.StatusUploaded {
				t.Fatalf("%s: %+v, %v; want uploaded", up.path, f, err)
			}
			if !bytes.Equal(e.stored(f), up.content) {
				t.Errorf("%s: the stored content differs from the file", up.path)
			}
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		total := 0
		for _, n := range l.n {
			total += n
		}
		t.Logf("429s by route: %v", l.n)
		if total == 0 || l.bare != 0 {
			t.Errorf("429s: %v, %d of them without Retry-After ≥ 1; want some, each with one", l.n, l.bare)
		}
		if l.n["PUT upload"]+l.n["PUT part"] != 0 {
			t.Errorf("upload or part URLs answered 429: %v", l.n)
		}
	}, func(c *server.Config) { c.RateLimit, c.RateBurst = 4, 3 })
}

// TestUploadFile_refusedByAQuotaSendsNothing: a file larger than what
// remains of the tenant's byte quota is refused before any of its bytes are
// taken, with the server's 413 and its message: a file in parts before any
// part is sent anywhere, a file in one PUT to this server at the PUT
// (which it answers unread). On S3 that PUT goes to the store, where no
// quota can stop it: the server fails the file instead, saying why.
func TestUploadFile_refusedByAQuotaSendsNothing(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		pc := &parts{}
		c := e.client(pc)
		small, _ := writeRandom(t, "small.bin", 1000)
		if _, err := c.File.UploadFile(t.Context(), small); err != nil {
			t.Fatalf("a file within the quota: %v", err)
		}
		overQuota := func(what string, err error) {
			t.Helper()
			var ae *perseus.APIError
			if !errors.As(err, &ae) || ae.StatusCode != http.StatusRequestEntityTooLarge || ae.Code != "over_quota" || !strings.Contains(ae.Message, "quota") {
				t.Errorf("%s past the quota: %v; want 413 over_quota with a message", what, err)
			}
		}
		big, _ := writeRandom(t, "big.bin", int(2*e.part+1))
		_, err := c.File.UploadFile(t.Context(), big, perseus.WithPartSize(e.part))
		overQuota("a file in parts", err)
		if pc.n.Load() != 0 {
			t.Errorf("%d part PUTs sent; want none", pc.n.Load())
		}

		one, _ := writeRandom(t, "one.bin", int(e.part))
		f, err := c.File.UploadFile(t.Context(), one, perseus.WithPartSize(e.part))
		if strings.HasSuffix(t.Name(), "/embedded") {
			overQuota("a file in one PUT", err)
			return
		}
		if err != nil {
			t.Fatalf("a file in one PUT to S3: %v", err)
		}
		_, err = c.File.WaitForFileUpload(t.Context(), f.ID)
		if !errors.Is(err, perseus.ErrUploadFailed) || !strings.Contains(err.Error(), "quota") {
			t.Errorf("a file in one PUT to S3 past the quota: %v; want it failed, saying why", err)
		}
	}, func(c *server.Config) { c.QuotaBytes = 2000 })
}
