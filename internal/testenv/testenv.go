// Package testenv gives tests the real services they need, or skips them locally and fails them in CI.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
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
