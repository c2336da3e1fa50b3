package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// limitAnswers produces the documented answers of the limits per tenant
// (429 on every route that takes a key, 507, 411 at the upload URL under a
// byte quota, 503 from GET /api/v0/limits when the usage cannot be read)
// and returns what its checkers saw.
func limitAnswers(t *testing.T) map[string]bool {
	seen := map[string]bool{}

	// A rate so low that a key's second request is refused, on every route.
	e := newEnv(t, func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 1 })
	chk := newSpecChecker(t, e.url)
	s := specCall{chk.client(), e.url}
	f := e.create(keyA, "r.txt", []byte("rate"))
	if f.status != http.StatusCreated {
		t.Fatalf("create: %d %s", f.status, f.body)
	}
	id, file := f.Rec.ID, "/api/v0/file/"+f.Rec.ID
	up := file + "/multipart/1-1-x"
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v0/file", `{"name": "r", "sourceHash": "` + hashOf(nil) + `"}`},
		{"GET", "/api/v0/file", ""},
		{"POST", "/api/v0/file/find", `{"ids": ["` + id + `"]}`},
		{"POST", "/api/v0/file/stream?name=r", "bytes"},
		{"GET", file, ""},
		{"DELETE", file, ""},
		{"GET", file + "/content", ""},
		{"HEAD", file + "/content", ""},
		{"POST", file + "/download-url", ""},
		{"GET", "/api/v0/limits", ""},
		{"POST", file + "/multipart", `{"size": 4, "partSize": 4}`},
		{"POST", "/api/v0/file/multipart", `{"size": 4, "partSize": 4}`},
		{"GET", file + "/multipart", ""},
		{"POST", up + "/parts", `{"parts": []}`},
		{"POST", up + "/complete", `{}`},
		{"DELETE", up, ""},
	} {
		if status := s.do(t, c.method, c.path, keyA, "", []byte(c.body)); status != http.StatusTooManyRequests {
			t.Errorf("%s %s past the rate: %d, want 429", c.method, c.path, status)
		}
	}
	tus := tusBase + "0190c1d2-0000-7000-8000-000000000000"
	for _, c := range []struct{ method, path string }{{"POST", tusBase}, {"HEAD", tus}, {"PATCH", tus}, {"DELETE", tus}} {
		if status := s.do(t, c.method, c.path, keyA, "", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "1"); status != http.StatusTooManyRequests {
			t.Errorf("%s %s past the rate: %d, want 429", c.method, c.path, status)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/api/v0/openapi.json"} {
		if status := s.do(t, "GET", p, "", "", nil); status != http.StatusOK {
			t.Errorf("GET %s past the rate: %d, want 200: no key, no limit", p, status)
		}
	}
	if r := e.put(f.UploadURL, []byte("rate")); r.status != http.StatusOK {
		t.Errorf("PUT to the upload URL past the rate: %d %s, want 200: no key, no limit", r.status, r.body)
	}
	for k := range chk.seen {
		seen[k] = true
	}

	// Quotas of 2 files and 10 bytes, filled.
	q := newEnv(t, func(c *Config) { c.QuotaFiles, c.QuotaBytes = 2, 10 })
	qchk := newSpecChecker(t, q.url)
	s = specCall{qchk.client(), q.url}
	s.do(t, "GET", "/api/v0/limits", keyA, "", nil) // 200 with the usage
	q.upload(keyA, "ten.bin", []byte("0123456789"))
	one := q.create(keyA, "one.bin", []byte("1"))
	if one.status != http.StatusCreated {
		t.Fatalf("create: %d %s", one.status, one.body)
	}
	s.do(t, "PUT", one.UploadURL, "", "", []byte("1"))                                                           // 507: no bytes left
	s.json(t, "POST", "/api/v0/file/"+one.Rec.ID+"/multipart", keyA, map[string]int64{"size": 1, "partSize": 1}) // 507
	s.json(t, "POST", "/api/v0/file", keyA, map[string]string{"name": "x", "sourceHash": hashOf([]byte("x"))})   // 507: no files left
	s.json(t, "POST", "/api/v0/file/multipart", keyA, map[string]int64{"size": 1, "partSize": 1})                // 507
	s.do(t, "POST", "/api/v0/file/stream?name=x", keyA, "application/octet-stream", []byte("x"))                 // 507
	{
		req, _ := http.NewRequest("PUT", one.UploadURL, io.MultiReader(strings.NewReader("1")))
		req.ContentLength = -1
		if res, err := s.c.Do(req); err == nil { // 411: a byte quota needs the length first
			res.Body.Close()
		}
	}
	q.meta.down.Store(true)
	s.do(t, "GET", "/api/v0/limits", keyA, "", nil) // 503: the usage cannot be read
	q.meta.down.Store(false)
	for k := range qchk.seen {
		seen[k] = true
	}
	return seen
}
