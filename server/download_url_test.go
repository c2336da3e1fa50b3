package server

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// downloadURL asks for a download URL of file id with key's bearer header.
func (e *testEnv) downloadURL(key, id string) (redirectResponse, apiResp) {
	e.t.Helper()
	r := e.call("POST", "/api/v0/file/"+id+"/download-url", key, nil)
	var d redirectResponse
	if r.status == http.StatusOK {
		decodeInto(e.t, r.body, &d)
	}
	return d, r
}

// fetch GETs (or HEADs) a URL with nothing but hdr: no API key.
func fetch(t *testing.T, method, u string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res, mustRead(t, res)
}

// checkExpiry holds a download URL's expiresAt to its shape and to about
// 15 minutes from now.
func checkExpiry(t *testing.T, d redirectResponse) {
	t.Helper()
	exp, err := time.Parse(time.RFC3339, d.ExpiresAt)
	if !createdAtShape.MatchString(d.ExpiresAt) || err != nil {
		t.Fatalf("expiresAt %q is not RFC 3339 with milliseconds in UTC", d.ExpiresAt)
	}
	if left := time.Until(exp); left < 14*time.Minute || left > 15*time.Minute+time.Second {
		t.Errorf("expiresAt %s is %s away, want 15m", d.ExpiresAt, left)
	}
}

func TestDownloadURLServesTheBytesWithoutTheKey(t *testing.T) {
	e := newEnv(t)
	content := randomBytes(100 << 10)
	f := e.upload(keyA, "dir/report é.bin", content)
	d, r := e.downloadURL(keyA, f.ID)
	if r.status != http.StatusOK || !strings.HasPrefix(d.URL, e.url+"/download/"+f.ID+"?") {
		t.Fatalf("download-url: %d %s", r.status, r.body)
	}
	checkExpiry(t, d)
	if strings.Contains(d.URL, keyA) {
		t.Fatal("the URL carries the API key")
	}

	res, body := fetch(t, "GET", d.URL)
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("GET the download URL: %d, %d bytes, match %v", res.StatusCode, len(body), bytes.Equal(body, content))
	}
	_, params, _ := mime.ParseMediaType(res.Header.Get("Content-Disposition"))
	for h, want := range map[string]string{
		"ETag": `"` + hashOf(content) + `"`, "Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer",
		"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes", "X-Content-Type-Options": "nosniff",
	} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if params["filename"] != "dir/report é.bin" || !strings.HasPrefix(res.Header.Get("Repr-Digest"), "sha-256=:") {
		t.Errorf("Content-Disposition %q, Repr-Digest %q", res.Header.Get("Content-Disposition"), res.Header.Get("Repr-Digest"))
	}

	res, body = fetch(t, "GET", d.URL, "Range", "bytes=1000-1999")
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[1000:2000]) {
		t.Errorf("Range: %d, %d bytes", res.StatusCode, len(body))
	}
	res, body = fetch(t, "HEAD", d.URL)
	if res.StatusCode != http.StatusOK || len(body) != 0 || res.ContentLength != int64(len(content)) {
		t.Errorf("HEAD: %d, Content-Length %d, %d bytes of body", res.StatusCode, res.ContentLength, len(body))
	}
	if res, _ := fetch(t, "GET", d.URL, "If-None-Match", `"`+hashOf(content)+`"`); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", res.StatusCode)
	}
	if res, body := fetch(t, "GET", d.URL, "Range", "bytes=999999-"); res.StatusCode != http.StatusRequestedRangeNotSatisfiable || !bytes.Contains(body, []byte("range_not_satisfiable")) {
		t.Errorf("a Range past the end: %d %s", res.StatusCode, body)
	}
}

// TestDownloadURLHonoursThePublicURL: behind a proxy, the URL is the public one.
func TestDownloadURLHonoursThePublicURL(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PublicURL = "https://files.example.com/" })
	content := []byte("behind a proxy")
	c := e.create(keyA, "a.txt", content)
	if p := e.put(strings.Replace(c.UploadURL, "https://files.example.com", e.url, 1), content); p.status != http.StatusOK {
		t.Fatalf("put: %d %s", p.status, p.body)
	}
	d, r := e.downloadURL(keyA, c.Rec.ID)
	if r.status != http.StatusOK || !strings.HasPrefix(d.URL, "https://files.example.com/download/"+c.Rec.ID+"?") {
		t.Fatalf("download-url: %d %s", r.status, r.body)
	}
	// The proxy passes the path and query on as they are.
	if res, body := fetch(t, "GET", strings.Replace(d.URL, "https://files.example.com", e.url, 1)); res.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Errorf("GET through the proxy: %d %q", res.StatusCode, body)
	}
}

// TestDownloadURLRefusesWhatItWasNotSignedFor: a download URL is bound to
// its file, tenant, content and expiry; any change, a missing signature or
// an upload URL's signature is 403, an expired one 410, each with a message
// that says to ask for a new one.
func TestDownloadURLRefusesWhatItWasNotSignedFor(t *testing.T) {
	e := newEnv(t)
	content := []byte("bound content")
	f := e.upload(keyA, "a.txt", content)
	other := e.upload(keyA, "b.txt", []byte("other content"))
	d, _ := e.downloadURL(keyA, f.ID)
	u, _ := url.Parse(d.URL)
	with := func(k, v string) string {
		q := u.Query()
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return e.url + u.Path + "?" + q.Encode()
	}
	sig := u.Query().Get("sig")
	flipped := []byte(sig)
	flipped[3] ^= 1
	pending := e.create(keyA, "p.txt", []byte("pending"))
	for name, target := range map[string]string{
		"a changed signature":        with("sig", string(flipped)),
		"no signature":               with("sig", ""),
		"a signature not base64":     with("sig", "!!"),
		"another tenant":             with("tenant", tenantB),
		"another content":            with("hash", hashOf([]byte("x"))),
		"a later expiry":             with("expires", "99999999999"),
		"another file's id":          strings.Replace(with("sig", sig), f.ID, other.ID, 1),
		"no query":                   e.url + u.Path,
		"an upload URL's signature":  strings.Replace(pending.UploadURL, "/upload/", "/download/", 1),
		"another expiry of the same": with("expires", "1"),
	} {
		res, body := fetch(t, "GET", target)
		if res.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte(`"download_url_invalid"`)) ||
			!bytes.Contains(body, []byte("ask the API for a new download URL")) {
			t.Errorf("%s: %d %s", name, res.StatusCode, body)
		}
	}

	past := e.url + "/download/" + f.ID + "?" + e.srv.sign.DownloadQuery(tenantA, f.ID, f.SourceHash, time.Now().Add(-time.Minute))
	res, body := fetch(t, "GET", past)
	if res.StatusCode != http.StatusGone || !bytes.Contains(body, []byte(`"download_url_expired"`)) ||
		!bytes.Contains(body, []byte("ask the API for a new download URL")) {
		t.Errorf("expired: %d %s", res.StatusCode, body)
	}
	if res, body := fetch(t, "GET", d.URL); res.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Errorf("the genuine URL after all that: %d %q", res.StatusCode, body)
	}
}

// TestDownloadURLFollowsTheFile: only the owner gets a URL, only of an
// uploaded file; a URL made before the file was deleted (or before it was
// created again) stops working.
func TestDownloadURLFollowsTheFile(t *testing.T) {
	e := newEnv(t)
	content := []byte("soon deleted")
	f := e.upload(keyA, "a.txt", content)
	if _, r := e.downloadURL(keyB, f.ID); r.status != http.StatusNotFound || r.Code != "file_not_found" {
		t.Errorf("another tenant's file: %d %s", r.status, r.body)
	}
	if _, r := e.downloadURL(keyA, "nope"); r.status != http.StatusNotFound {
		t.Errorf("no such file: %d %s", r.status, r.body)
	}
	p := e.create(keyA, "p.txt", []byte("never sent"))
	if _, r := e.downloadURL(keyA, p.Rec.ID); r.status != http.StatusConflict || r.Code != "file_not_uploaded" {
		t.Errorf("a pending file: %d %s", r.status, r.body)
	}
	if _, r := e.downloadURL("", f.ID); r.status != http.StatusUnauthorized {
		t.Errorf("no key: %d %s", r.status, r.body)
	}

	d, _ := e.downloadURL(keyA, f.ID)
	if del := e.call("DELETE", "/api/v0/file/"+f.ID, keyA, nil); del.status/100 != 2 {
		t.Fatalf("delete: %d %s", del.status, del.body)
	}
	res, body := fetch(t, "GET", d.URL)
	if res.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte(`"file_not_found"`)) || !bytes.Contains(body, []byte("deleted")) {
		t.Errorf("after the delete: %d %s", res.StatusCode, body)
	}
	again := e.upload(keyA, "a.txt", content) // the same content, a new file
	if res, _ := fetch(t, "GET", d.URL); res.StatusCode != http.StatusNotFound {
		t.Errorf("after the content came back as file %s: %d", again.ID, res.StatusCode)
	}
}

// TestDownloadURLAcrossReplicas: a replica mid-rotation accepts a URL of
// the old key; one without that key says which key it lacks.
func TestDownloadURLAcrossReplicas(t *testing.T) {
	e := newEnv(t, fleetKey("alpha"))
	content := []byte("fleet content")
	f := e.upload(keyA, "a.txt", content)
	d, _ := e.downloadURL(keyA, f.ID)
	rotated := replicaOf(t, e, func(c *Config) {
		c.SigningKey = nil
		c.SigningKeys = []SigningKey{{ID: "beta", Secret: bytes.Repeat([]byte("b"), 32)}, {ID: "alpha", Secret: bytes.Repeat([]byte("a"), 32)}}
	})
	if res, body := fetch(t, "GET", strings.Replace(d.URL, e.url, rotated, 1)); res.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Errorf("on a rotated replica: %d %q", res.StatusCode, body)
	}
	wrong := replicaOf(t, e, fleetKey("beta"))
	res, body := fetch(t, "GET", strings.Replace(d.URL, e.url, wrong, 1))
	if res.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("signing_key_unknown")) || !bytes.Contains(body, []byte(`\"alpha\"`)) {
		t.Errorf("on a replica without the key: %d %s", res.StatusCode, body)
	}
}

// TestDownloadURLOnS3IsAPresignedAttachment: on S3 the URL is the store's
// presigned GET, which serves the bytes (and ranges of them) as an
// attachment under the file's name.
func TestDownloadURLOnS3IsAPresignedAttachment(t *testing.T) {
	e := newS3DownloadEnv(t)
	content := randomBytes(1<<20 + 3)
	c := e.create(keyA, "report é.bin", content)
	put, _ := http.NewRequest("PUT", c.UploadURL, bytes.NewReader(content))
	if res, err := http.DefaultClient.Do(put); err != nil || res.StatusCode/100 != 2 {
		t.Fatalf("PUT to the presigned URL: %v %v", res, err)
	} else {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	if g := e.call("GET", "/api/v0/file/"+c.Rec.ID+"?wait=20s", keyA, nil); g.Status != "uploaded" {
		t.Fatalf("after the direct upload the file is %d %s", g.status, g.body)
	}
	d, r := e.downloadURL(keyA, c.Rec.ID)
	if r.status != http.StatusOK || d.URL == "" || strings.HasPrefix(d.URL, e.url) {
		t.Fatalf("download-url on S3: %d %s", r.status, r.body)
	}
	checkExpiry(t, d)
	if exp := mustParseURL(t, d.URL).Query().Get("X-Amz-Expires"); exp != "900" {
		t.Errorf("X-Amz-Expires %q, want 900", exp)
	}
	res, body := fetch(t, "GET", d.URL)
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("GET the presigned URL: %d, %d bytes", res.StatusCode, len(body))
	}
	if _, params, err := mime.ParseMediaType(res.Header.Get("Content-Disposition")); err != nil || params["filename"] != "report é.bin" {
		t.Errorf("Content-Disposition %q", res.Header.Get("Content-Disposition"))
	}
	if res, body := fetch(t, "GET", d.URL, "Range", "bytes=10-19"); res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[10:20]) {
		t.Errorf("Range: %d, %d bytes", res.StatusCode, len(body))
	}
	if _, r := e.downloadURL(keyB, c.Rec.ID); r.status != http.StatusNotFound {
		t.Errorf("another tenant's file: %d %s", r.status, r.body)
	}
	p := e.create(keyA, "pending.bin", []byte("never sent"))
	if _, r := e.downloadURL(keyA, p.Rec.ID); r.status != http.StatusConflict || r.Code != "file_not_uploaded" {
		t.Errorf("a pending file: %d %s", r.status, r.body)
	}
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
