package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob"
)

// presignGets makes any store answer downloads with a redirect, as S3 does,
// so that the 307 can be held to the document without an S3 server (the S3
// test does it against a real one). It does not presign uploads.
type presignGets struct{ assemblingStore }

// assemblingStore is a store that assembles multipart uploads, as the local one does.
type assemblingStore interface {
	blob.Store
	blob.Assembler
}

func (presignGets) PresignGet(_ context.Context, key string, ttl time.Duration, _ string) (string, error) {
	return "http://store.invalid/" + key + "?expires=" + ttl.String(), nil
}

// specCall is one request sent through a specChecker.
type specCall struct {
	c   *http.Client
	url string
}

func (s specCall) do(t *testing.T, method, path, key, contentType string, body []byte, hdr ...string) int {
	t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = s.url + path
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := s.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func (s specCall) json(t *testing.T, method, path, key string, v any) int {
	t.Helper()
	b, _ := json.Marshal(v)
	return s.do(t, method, path, key, "application/json", b)
}

// TestOpenAPIDescribesEveryAnswer sends the real server every request that
// leads to a documented answer, success and error alike, and holds each
// answer to openapi.json; then it demands that every answer the document
// promises was seen, so the document can neither lag the server nor
// promise what it does not do.
func TestOpenAPIDescribesEveryAnswer(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFileSize = 1 << 20 })
	chk := newSpecChecker(t, e.url)
	s := specCall{chk.client(), e.url}
	content := []byte("described content")
	hash := hashOf(content)
	create := map[string]string{"name": "d.txt", "sourceHash": hash}

	// POST /api/v0/file
	var c apiResp
	{
		b, _ := json.Marshal(create)
		req, _ := http.NewRequest("POST", e.url+"/api/v0/file", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+keyA)
		res, err := s.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(res.Body).Decode(&c)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d", res.StatusCode)
		}
	}
	s.json(t, "POST", "/api/v0/file", keyA, create) // 200: still pending
	s.json(t, "POST", "/api/v0/file", keyA, map[string]string{"name": "d.txt", "sourceHash": "xyz"})
	s.json(t, "POST", "/api/v0/file", "", create)
	s.do(t, "POST", "/api/v0/file", keyA, "application/json", bytes.Repeat([]byte(" "), maxJSONBody+1))
	s.do(t, "POST", "/api/v0/file", keyA, "text/plain", []byte(`{}`))

	// PUT /upload/{id}: the error answers first, then success.
	u, _ := url.Parse(c.UploadURL)
	q := u.Query()
	q.Set("sig", "AAAA")
	s.do(t, "PUT", u.Path+"?"+q.Encode(), "", "", content)                    // 403
	s.do(t, "PUT", c.UploadURL, "", "", bytes.Repeat([]byte("x"), (1<<20)+1)) // 413
	s.do(t, "PUT", c.UploadURL, "", "", []byte("wrong"))                      // 422
	s.json(t, "POST", "/api/v0/file", keyA, create)                           // pending again
	putCutShort(t, chk, c.UploadURL, content)                                 // 400
	s.do(t, "PUT", c.UploadURL, "", "", content)                              // 200
	s.do(t, "PUT", c.UploadURL, "", "", content)                              // 409
	s.json(t, "POST", "/api/v0/file", keyA, create)                           // 409: uploaded
	gone := e.create(keyA, "gone.txt", []byte("soon deleted"))
	e.call("DELETE", "/api/v0/file/"+gone.Rec.ID, keyA, nil)
	s.do(t, "PUT", gone.UploadURL, "", "", []byte("soon deleted")) // 410
	id := c.Rec.ID

	// POST /api/v0/file/find
	s.json(t, "POST", "/api/v0/file/find", keyA, map[string][]string{"ids": {id}})
	s.json(t, "POST", "/api/v0/file/find", keyA, map[string]any{"ids": "not a list"})
	s.json(t, "POST", "/api/v0/file/find", "", map[string][]string{})
	s.do(t, "POST", "/api/v0/file/find", keyA, "application/json", bytes.Repeat([]byte(" "), maxJSONBody+1))
	s.do(t, "POST", "/api/v0/file/find", keyA, "text/plain", []byte(`{}`))

	// POST /api/v0/file/stream
	const octets = "application/octet-stream"
	streamed := bytes.Repeat([]byte("s"), 1000)
	s.do(t, "POST", "/api/v0/file/stream?name=s.bin", keyA, octets, streamed)                        // 201
	s.do(t, "POST", "/api/v0/file/stream?name=s.bin", keyA, octets, bytes.Repeat([]byte("t"), 1000)) // 409: that size
	adopted := []byte("content a pending record waits for")
	e.create(keyA, "adopt.bin", adopted)
	s.do(t, "POST", "/api/v0/file/stream?name=a.bin", keyA, octets, adopted)           // 200: existing
	s.do(t, "POST", "/api/v0/file/stream?name=a//b", keyA, octets, []byte("x"))        // 400
	s.do(t, "POST", "/api/v0/file/stream?name=x", "", octets, []byte("x"))             // 401
	s.do(t, "POST", "/api/v0/file/stream?name=x", keyA, octets, make([]byte, 1<<20+1)) // 413
	{
		req, _ := http.NewRequest("POST", e.url+"/api/v0/file/stream?name=x", io.MultiReader(strings.NewReader("x")))
		req.ContentLength = -1
		req.Header.Set("Authorization", "Bearer "+keyA)
		if res, err := s.c.Do(req); err == nil { // 411
			res.Body.Close()
		}
	}

	// GET /api/v0/file (list)
	e.create(keyA, "other.txt", []byte("another"))
	s.do(t, "GET", "/api/v0/file?limit=1", keyA, "", nil)
	s.do(t, "GET", "/api/v0/file?limit=0", keyA, "", nil)
	s.do(t, "GET", "/api/v0/file", "", "", nil)

	// GET and DELETE /api/v0/file/{id}
	s.do(t, "GET", "/api/v0/file/"+id, keyA, "", nil)
	s.do(t, "GET", "/api/v0/file/"+id+"?wait=forever", keyA, "", nil)
	s.do(t, "GET", "/api/v0/file/"+id, "", "", nil)
	s.do(t, "GET", "/api/v0/file/nope", keyA, "", nil)

	// GET and HEAD /api/v0/file/{id}/content
	dl := "/api/v0/file/" + id + "/content"
	s.do(t, "GET", dl, keyA, "", nil)
	s.do(t, "HEAD", dl, keyA, "", nil)
	s.do(t, "GET", dl, keyA, "", nil, "Range", "bytes=0-3")
	s.do(t, "GET", dl, keyA, "", nil, "Range", "bytes=0-3,5-6")
	s.do(t, "GET", dl, keyA, "", nil, "If-None-Match", `"`+hash+`"`)
	s.do(t, "GET", dl, keyA, "", nil, "If-Match", `"other"`)
	s.do(t, "GET", dl, keyA, "", nil, "Range", "bytes=999-")
	s.do(t, "GET", dl, "", "", nil)
	s.do(t, "GET", "/api/v0/file/nope/content", keyA, "", nil)
	pend := e.create(keyA, "pending.txt", []byte("pending"))
	s.do(t, "GET", "/api/v0/file/"+pend.Rec.ID+"/content", keyA, "", nil)

	// Operations.
	s.do(t, "GET", "/healthz", "", "", nil)
	s.do(t, "GET", "/readyz", "", "", nil)
	s.do(t, "GET", "/metrics", "", "", nil)
	s.do(t, "GET", "/api/v0/openapi.json", "", "", nil)

	// A store outage: 503 everywhere it can happen.
	e.meta.down.Store(true)
	s.json(t, "POST", "/api/v0/file", keyA, create)
	s.json(t, "POST", "/api/v0/file/find", keyA, map[string][]string{"ids": {id}})
	s.do(t, "GET", "/api/v0/file", keyA, "", nil)
	s.do(t, "GET", "/api/v0/file/"+id, keyA, "", nil)
	s.do(t, "GET", dl, keyA, "", nil)
	s.do(t, "DELETE", "/api/v0/file/"+id, keyA, "", nil)
	s.do(t, "PUT", pend.UploadURL, "", "", []byte("pending"))
	s.do(t, "POST", "/api/v0/file/stream?name=x", keyA, octets, []byte("x"))
	s.do(t, "GET", "/readyz", "", "", nil)
	e.meta.down.Store(false)

	// Content lost from the store: 500.
	for name := range e.storedFiles() {
		os.Remove(filepath.Join(e.blobDir, name))
	}
	s.do(t, "GET", dl, keyA, "", nil)

	s.do(t, "DELETE", "/api/v0/file/"+id, keyA, "", nil)
	s.do(t, "DELETE", "/api/v0/file/"+id, keyA, "", nil)
	s.do(t, "DELETE", "/api/v0/file/"+id, "", "", nil)

	// A store that presigns downloads answers 307.
	r := newEnv(t, func(c *Config) { c.Blobs = presignGets{c.Blobs.(assemblingStore)} })
	rchk := newSpecChecker(t, r.url)
	f := r.upload(keyA, "r.txt", content)
	specCall{rchk.client(), r.url}.do(t, "GET", "/api/v0/file/"+f.ID+"/content", keyA, "", nil)
	for k := range rchk.seen {
		chk.seen[k] = true
	}

	for k := range multipartAnswers(t) {
		chk.seen[k] = true
	}
	for k := range foreignKeyAnswers(t) {
		chk.seen[k] = true
	}
	for k := range openAnswers(t) {
		chk.seen[k] = true
	}
	for k := range limitAnswers(t) {
		chk.seen[k] = true
	}
	for k := range batchAnswers(t) {
		chk.seen[k] = true
	}
	for k := range downloadURLAnswers(t) {
		chk.seen[k] = true
	}
	for k := range batchContentAnswers(t) {
		chk.seen[k] = true
	}
	for k := range tusAnswers(t) {
		chk.seen[k] = true
	}
	for k := range s3EventsAnswers(t) {
		chk.seen[k] = true
	}
	for k := range webhookAnswers(t) {
		chk.seen[k] = true
	}
	for k := range eventAnswers(t) {
		chk.seen[k] = true
	}
	for k := range consoleAnswers(t) {
		chk.seen[k] = true
	}
	if missing := chk.missing(unreachableAnswers); len(missing) > 0 {
		t.Errorf("documented answers no request produced (produce them here, or list them in unreachableAnswers with why):\n  %s",
			strings.Join(missing, "\n  "))
	}
}

// unreachableAnswers are documented answers this test does not produce, and why.
var unreachableAnswers = map[string]string{
	"HEAD /api/v0/file/{id}/content 206":                     "HEAD answers carry no body to check; the GET answers are checked",
	"HEAD /api/v0/file/{id}/content 304":                     "as above",
	"HEAD /api/v0/file/{id}/content 307":                     "as above",
	"HEAD /api/v0/file/{id}/content 401":                     "as above",
	"HEAD /api/v0/file/{id}/content 404":                     "as above",
	"HEAD /api/v0/file/{id}/content 409":                     "as above",
	"HEAD /api/v0/file/{id}/content 412":                     "as above",
	"HEAD /api/v0/file/{id}/content 416":                     "as above",
	"HEAD /api/v0/file/{id}/content 500":                     "as above",
	"HEAD /api/v0/file/{id}/content 503":                     "as above",
	"HEAD /download/{id} 206":                                "HEAD answers carry no body to check; the GET answers are checked",
	"HEAD /download/{id} 304":                                "as above",
	"HEAD /download/{id} 403":                                "as above",
	"HEAD /download/{id} 404":                                "as above",
	"HEAD /download/{id} 409":                                "as above",
	"HEAD /download/{id} 410":                                "as above",
	"HEAD /download/{id} 412":                                "as above",
	"HEAD /download/{id} 416":                                "as above",
	"HEAD /download/{id} 500":                                "as above",
	"HEAD /download/{id} 503":                                "as above",
	"GET /download/{id} 409":                                 "a URL is only made for an uploaded file, and an uploaded file never becomes pending or failed again; answered should a store ever let it",
	"POST /api/v0/file/{id}/multipart/{upload}/complete 202": "only when a direct (S3) upload's verification outlasts the wait",
	"POST /api/v0/file/{id}/multipart/{upload}/complete 410": "only when the file is deleted while its parts are being assembled",
	"POST /api/v0/file/stream 410":                           "only when the file is deleted between its record and its commit",
	"PUT /upload/{id}/parts/{n} 404":                         "only on S3, with parts relayed, when the store's upload is gone: TestMultipartOnS3RelayedPartOfAGoneUpload produces it, held to this document",
}

// putCutShort sends half of content to an upload URL that expects all of it
// and holds whatever the server answers to the document.
func putCutShort(t *testing.T, chk *specChecker, uploadURL string, content []byte) {
	t.Helper()
	u, _ := url.Parse(uploadURL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", u.RequestURI(), u.Host, len(content))
	conn.Write(content[:len(content)/2])
	conn.(*net.TCPConn).CloseWrite()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("cut-off upload: no answer: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	req, _ := http.NewRequest("PUT", uploadURL, nil)
	chk.check(req, res.StatusCode, res.Header, body)
}
