// Package testenv gives tests the real services they need, or skips them locally and fails them in CI.
package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// Unavailable skips the test with why (one line saying what to start), or
// fails it when CI=true, where a skip would hide that nothing was tested.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("in CI: %s", why)
	}
	t.Skip(why)
}

// Require returns the environment variable name, or calls Unavailable.
func Require(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Unavailable(t, name+" not set: run ./scripts/test (it starts PostgreSQL and versitygw) or point it at your own")
	}
	return v
}

// PostgresURL returns the test database's URL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return Require(t, "PERSEUS_TEST_POSTGRES_URL")
}

// S3URL returns the test bucket's URL with prefix=<prefix>/<random>, so that
// each caller works in a namespace of its own.
func S3URL(t testing.TB, prefix string) string {
	t.Helper()
	u, err := url.Parse(Require(t, "PERSEUS_TEST_S3_URL"))
	if err != nil {
		t.Fatalf("PERSEUS_TEST_S3_URL: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	q := u.Query()
	q.Set("prefix", prefix+"/"+hex.EncodeToString(b))
	u.RawQuery = q.Encode()
	return u.String()
}

// S3Events sends the S3 event notifications of the objects under the
// bucket and prefix of s3url (one S3URL made) to target, until t ends:
// the test S3 server posts them to the relay scripts/lib/s3.sh starts
// beside it (internal/testenv/s3relay), at PERSEUS_TEST_S3_EVENTS, which
// passes each on to whoever subscribed to its prefix. Tests of many
// packages share the one S3 server, each under prefixes of its own, so
// each gets the notifications of its objects alone.
func S3Events(t testing.TB, s3url, target string) {
	t.Helper()
	relay := Require(t, "PERSEUS_TEST_S3_EVENTS")
	u, err := url.Parse(s3url)
	if err != nil {
		t.Fatalf("S3Events: %v", err)
	}
	prefix := strings.Trim(u.Query().Get("prefix"), "/")
	if prefix != "" {
		prefix += "/"
	}
	body, _ := json.Marshal(map[string]string{"bucket": u.Host, "prefix": prefix, "url": target})
	res, err := http.Post(relay+"/subscriptions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("S3Events: subscribe at the relay (PERSEUS_TEST_S3_EVENTS=%s): %v", relay, err)
	}
	defer res.Body.Close()
	var sub struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&sub); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("S3Events: subscribe at the relay: %d %v", res.StatusCode, err)
	}
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, relay+"/subscriptions/"+sub.ID, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	})
}
