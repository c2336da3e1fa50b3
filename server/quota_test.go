package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

func (f *faultyMeta) Usage(ctx context.Context, tenant string) (meta.Usage, error) {
	if err := f.fail(); err != nil {
		return meta.Usage{}, err
	}
	return f.Store.Usage(ctx, tenant)
}

// bodyRead returns how many request body bytes the server has read on
// route, from its metrics.
func (e *testEnv) bodyRead(route string) float64 {
	e.t.Helper()
	return max(0, metric(e.scrape(), "perseus_http_request_body_bytes_total", `route="`+route+`"`))
}

// limits returns what GET /api/v0/limits answers key.
func (e *testEnv) limits(key string) Limits {
	e.t.Helper()
	r := e.call("GET", "/api/v0/limits", key, nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("limits: %d %s", r.status, r.body)
	}
	var l Limits
	decodeInto(e.t, r.body, &l)
	return l
}

// wantUsage checks the limits key is told: its quotas and usage.
func (e *testEnv) wantUsage(key string, files, size int64) {
	e.t.Helper()
	l := e.limits(key)
	if l.UsedFiles == nil || l.UsedBytes == nil || *l.UsedFiles != files || *l.UsedBytes != size {
		e.t.Errorf("limits of %s: usedFiles %v, usedBytes %v; want %d and %d", key, deref(l.UsedFiles), deref(l.UsedBytes), files, size)
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// wantRefused checks that r is status with code and a message that says
// what to do.
func wantRefused(t *testing.T, what string, r apiResp, status int, code string) {
	t.Helper()
	if r.status != status || r.Code != code || !strings.Contains(r.Message, "quota") {
		t.Errorf("%s: %d %s; want %d %s with a message about the quota", what, r.status, r.body, status, code)
	}
}

func TestQuotasRefuseWhatDoesNotFitBeforeAnyByteIsRead(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.QuotaFiles, c.QuotaBytes = 3, 1000 })
	if l := e.limits(keyA); l.QuotaFiles != 3 || l.QuotaBytes != 1000 || l.RateLimit != 0 || l.RateBurst != 0 {
		t.Errorf("limits = %+v, want quotas of 3 files and 1000 bytes, no rate limit", l)
	}
	e.wantUsage(keyA, 0, 0)
	a := e.upload(keyA, "a.bin", randomBytes(600))
	b := randomBytes(400)
	cb := e.create(keyA, "b.bin", b)
	e.wantUsage(keyA, 2, 600)
	const put = "PUT /upload/{id}"
	read := e.bodyRead(put)

	// 401 bytes do not fit in the 400 left: refused before they are read.
	wantRefused(t, "PUT of 401 bytes", e.put(cb.UploadURL, randomBytes(401)), http.StatusRequestEntityTooLarge, "over_quota")
	r, sent := e.stream(keyA, "s.bin", randomBytes(401))
	wantRefused(t, "stream of 401 bytes", r, http.StatusRequestEntityTooLarge, "over_quota")
	if sent != 0 {
		t.Errorf("the stream refused sent %d bytes; want none (Expect: 100-continue)", sent)
	}
	m := e.call("POST", "/api/v0/file/"+cb.Rec.ID+"/multipart", keyA, map[string]int64{"size": 401, "partSize": 5 << 20})
	wantRefused(t, "multipart upload of 401 bytes", m, http.StatusRequestEntityTooLarge, "over_quota")
	m = e.call("POST", "/api/v0/file/"+cb.Rec.ID+"/multipart", keyA, map[string]int64{"size": 1001, "partSize": 5 << 20})
	if wantRefused(t, "multipart upload larger than the whole quota", m, http.StatusRequestEntityTooLarge, "over_quota"); !strings.Contains(m.Message, "whole quota") {
		t.Errorf("a file larger than the whole quota: %q; want it said", m.Message)
	}
	if got := e.bodyRead(put); got != read {
		t.Errorf("the server read %v body bytes of refused PUTs", got-read)
	}
	if p := e.put(cb.UploadURL, b); p.status != http.StatusOK || p.Status != "uploaded" {
		t.Fatalf("PUT of the last 400 bytes: %d %s", p.status, p.body)
	}
	e.wantUsage(keyA, 2, 1000)

	// The byte quota is full: a file with bytes is refused, 507; one without is not.
	c := []byte("c")
	cc := e.create(keyA, "c.bin", c)
	if cc.status != http.StatusCreated {
		t.Fatalf("third file: %d %s", cc.status, cc.body)
	}
	read = e.bodyRead(put)
	wantRefused(t, "PUT with the byte quota full", e.put(cc.UploadURL, c), http.StatusInsufficientStorage, "quota_exceeded")
	m = e.call("POST", "/api/v0/file/"+cc.Rec.ID+"/multipart", keyA, map[string]int64{"size": 1, "partSize": 5 << 20})
	wantRefused(t, "multipart upload with the byte quota full", m, http.StatusInsufficientStorage, "quota_exceeded")
	chunked, _ := http.NewRequest("PUT", cc.UploadURL, io.MultiReader(bytes.NewReader(c)))
	chunked.ContentLength = -1
	if r := e.send(chunked); r.status != http.StatusLengthRequired {
		t.Errorf("PUT without a Content-Length under a byte quota: %d %s, want 411", r.status, r.body)
	}
	if got := e.bodyRead(put); got != read {
		t.Errorf("the server read %v body bytes of refused PUTs", got-read)
	}

	// Three files: a new one is refused, 507; content the tenant has is not a new file.
	wantRefused(t, "a fourth file", e.create(keyA, "d.bin", []byte("d")), http.StatusInsufficientStorage, "quota_exceeded")
	r, sent = e.stream(keyA, "d.bin", []byte("d"))
	if wantRefused(t, "a fourth file streamed", r, http.StatusInsufficientStorage, "quota_exceeded"); sent != 0 {
		t.Errorf("the stream refused sent %d bytes", sent)
	}
	if r := e.create(keyA, "b again.bin", b); r.status != http.StatusConflict || r.Rec == nil || r.Rec.ID != cb.Rec.ID {
		t.Errorf("create of uploaded content at the files quota: %d %s, want 409 with that file", r.status, r.body)
	}
	if r := e.create(keyA, "c again.bin", c); r.status != http.StatusOK || r.Rec == nil || r.Rec.ID != cc.Rec.ID {
		t.Errorf("create of pending content at the files quota: %d %s, want 200 with that record", r.status, r.body)
	}
	e.wantUsage(keyA, 3, 1000)

	// Another tenant has a quota of its own.
	e.upload(keyB, "b.bin", randomBytes(1000))
	e.wantUsage(keyB, 1, 1000)

	// Room made, the refused upload goes through.
	if d := e.call("DELETE", "/api/v0/file/"+a.ID, keyA, nil); d.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", d.status, d.body)
	}
	if p := e.put(cc.UploadURL, c); p.status != http.StatusOK || p.Status != "uploaded" {
		t.Fatalf("PUT after a delete made room: %d %s", p.status, p.body)
	}
	e.wantUsage(keyA, 2, 401)
}

func TestNoQuotaMeansNoUsageInLimits(t *testing.T) {
	e := newEnv(t)
	if l := e.limits(keyA); l.QuotaFiles != 0 || l.QuotaBytes != 0 || l.UsedFiles != nil || l.UsedBytes != nil {
		t.Errorf("limits without quotas = %+v; want no quota and no usage", l)
	}
}

// TestQuotaOnS3 checks the ways bytes go straight to S3: a presigned PUT
// cannot be refused before it is sent, so the verifier fails the file
// without keeping the bytes; a multipart upload and a stream are refused
// before a byte is sent.
func TestQuotaOnS3(t *testing.T) {
	e := newS3Env(t, func(c *Config) {
		c.QuotaFiles, c.QuotaBytes, c.VerifyInterval = 10, 1000, 20*time.Millisecond
		c.StaticKeys = map[string]string{keyA: tenantA, keyB: tenantB}
	})
	direct := func(key string, content []byte) File {
		t.Helper()
		c := e.create(key, "d.bin", content)
		if c.status != http.StatusCreated && c.status != http.StatusOK {
			t.Fatalf("create: %d %s", c.status, c.body)
		}
		req, _ := http.NewRequest("PUT", c.UploadURL, bytes.NewReader(content))
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode/100 != 2 {
			t.Fatalf("PUT to the presigned URL: %v %v", res, err)
		}
		res.Body.Close()
		g := e.call("GET", "/api/v0/file/"+c.Rec.ID+"?wait=20s", key, nil)
		if g.status != http.StatusOK || g.Status == "pending" {
			t.Fatalf("after the direct upload: %d %s", g.status, g.body)
		}
		return g.File
	}
	if f := direct(keyA, randomBytes(600)); f.Status != "uploaded" {
		t.Fatalf("600 bytes of a quota of 1000: %+v", f)
	}
	over := randomBytes(401)
	if f := direct(keyA, over); f.Status != "failed" || !strings.Contains(f.Reason, "quota") {
		t.Errorf("401 bytes with 400 left, sent straight to S3: %+v; want failed, saying why", f)
	}
	again := e.create(keyA, "d.bin", over)
	m := e.call("POST", "/api/v0/file/"+again.Rec.ID+"/multipart", keyA, map[string]int64{"size": 401, "partSize": 5 << 20})
	wantRefused(t, "multipart upload of 401 bytes", m, http.StatusRequestEntityTooLarge, "over_quota")
	r, sent := e.stream(keyA, "s.bin", randomBytes(401))
	if wantRefused(t, "stream of 401 bytes", r, http.StatusRequestEntityTooLarge, "over_quota"); sent != 0 {
		t.Errorf("the stream refused sent %d bytes", sent)
	}
	if f := direct(keyB, randomBytes(1000)); f.Status != "uploaded" {
		t.Errorf("another tenant's 1000 bytes: %+v", f)
	}
	if f := direct(keyA, randomBytes(400)); f.Status != "uploaded" {
		t.Errorf("the last 400 bytes: %+v", f)
	}
	e.wantUsage(keyA, 3, 1000)
	for _, k := range e.objects() {
		if strings.Contains(k, again.Rec.ID) && !strings.Contains(k, "multipart") {
			t.Errorf("object %s of the refused file left in the store", k)
		}
	}
}
