package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestCheckOriginTakesOriginsOnly(t *testing.T) {
	for _, ok := range []string{"*", "https://app.example.com", "http://localhost:3000", "https://*.example.com",
		"http://127.0.0.1:8080", "https://[::1]:8443"} {
		if err := CheckOrigin(ok); err != nil {
			t.Errorf("CheckOrigin(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "app.example.com", "ftp://example.com", "https://example.com/",
		"https://example.com/app", "https://example.com?x=1", "https://example.com#top", "https://user@example.com",
		"https://", "https://exa mple.com", "https://example.com:port", "https://a.*.example.com", "https://*",
		"*.example.com", "mailto:x@example.com", "https://example.com:8443/"} {
		err := CheckOrigin(bad)
		if err == nil {
			t.Errorf("CheckOrigin(%q) = nil, want an error", bad)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("CheckOrigin(%q) = %q: more than one line", bad, err)
		}
	}
	if _, err := New(Config{Meta: newEnv(t).meta, Blobs: newEnv(t).blobs, SigningKey: testSigningKey,
		CORSOrigins: []string{"https://example.com/"}}); err == nil || !strings.Contains(err.Error(), "CORSOrigins") {
		t.Errorf("New with a bad origin = %v, want an error naming Config.CORSOrigins", err)
	}
}

// corsRequest sends method to path with an Origin and extra headers, and returns the answer.
func corsRequest(t *testing.T, e *testEnv, method, path, origin string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, e.url+path, nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func TestCORSAnswersPreflightsAndExposesHeadersToListedOriginsOnly(t *testing.T) {
	const app = "https://app.example.com"
	e := newEnv(t, func(c *Config) { c.CORSOrigins = []string{app, "http://localhost:3000"} })
	// As browsers send it: lowercase, sorted, comma-separated.
	tus := "authorization,content-type,perseus-hash-first,tus-resumable,upload-checksum,upload-concat,upload-defer-length,upload-length,upload-metadata,upload-offset,x-http-method-override,x-request-id"
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE", "GET", "HEAD"} {
		res := corsRequest(t, e, "OPTIONS", "/api/v0/file", app, map[string]string{
			"Access-Control-Request-Method": method, "Access-Control-Request-Headers": tus})
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != app ||
			res.Header.Get("Access-Control-Allow-Methods") != method ||
			res.Header.Get("Access-Control-Allow-Headers") != tus || res.Header.Get("Access-Control-Max-Age") == "" {
			t.Errorf("preflight of %s from %s: %d %v", method, app, res.StatusCode, res.Header)
		}
		if res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight allows credentials: %v", res.Header)
		}
	}

	// The web console served elsewhere reads the events with fetch, resuming with Last-Event-ID.
	events := "authorization,last-event-id" // Accept: text/event-stream is safelisted: browsers do not ask for it
	if res := corsRequest(t, e, "OPTIONS", "/api/v0/events", app, map[string]string{
		"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": events}); res.StatusCode != http.StatusNoContent ||
		res.Header.Get("Access-Control-Allow-Headers") != events {
		t.Errorf("preflight of the events stream with Last-Event-ID: %d %v", res.StatusCode, res.Header)
	}

	// An actual request from a listed origin may read the headers it needs.
	res := corsRequest(t, e, "GET", "/api/v0/file/nope", "http://localhost:3000", map[string]string{"Authorization": "Bearer " + keyA})
	if res.StatusCode != http.StatusNotFound || res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
		t.Fatalf("GET from a listed origin: %d %v", res.StatusCode, res.Header)
	}
	exposed := strings.ToLower(res.Header.Get("Access-Control-Expose-Headers"))
	for _, h := range []string{"Location", "ETag", "Repr-Digest", "X-Request-Id", "Retry-After", "Upload-Offset",
		"Upload-Length", "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Upload-Expires"} {
		if !strings.Contains(exposed, strings.ToLower(h)) {
			t.Errorf("%s is not exposed: %q", h, exposed)
		}
	}

	// Origins not listed, headers not allowed and requests without an Origin get no CORS headers.
	for name, res := range map[string]*http.Response{
		"preflight from another origin": corsRequest(t, e, "OPTIONS", "/api/v0/file", "https://evil.example.com",
			map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}),
		"preflight asking for an unknown header": corsRequest(t, e, "OPTIONS", "/api/v0/file", app,
			map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-secret"}),
		"GET from another origin":         corsRequest(t, e, "GET", "/healthz", "https://evil.example.com", nil),
		"GET from a path-suffixed origin": corsRequest(t, e, "GET", "/healthz", app+".evil.com", nil),
		"GET without an Origin":           corsRequest(t, e, "GET", "/healthz", "", nil),
	} {
		for k := range res.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s: answered %s: %s", name, k, res.Header.Get(k))
			}
		}
	}
}

func TestCORSStarAllowsAnyOriginWithoutCredentials(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CORSOrigins = []string{"*"} })
	res := corsRequest(t, e, "OPTIONS", "/upload/x", "https://anywhere.example", map[string]string{"Access-Control-Request-Method": "PUT"})
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
		res.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight with *: %d %v", res.StatusCode, res.Header)
	}
}

func TestNoCORSHeadersWithoutCORSOrigins(t *testing.T) {
	e := newEnv(t)
	res := corsRequest(t, e, "OPTIONS", "/api/v0/file", "https://app.example.com", map[string]string{"Access-Control-Request-Method": "POST"})
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight with no CORS configured: %d %v", res.StatusCode, res.Header)
	}
}
