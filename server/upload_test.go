package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// pendingFile creates content for tenant A and returns the create answer.
func (e *testEnv) pendingFile(content []byte) apiResp {
	e.t.Helper()
	c := e.create(keyA, "f.bin", content)
	if c.status != http.StatusCreated {
		e.t.Fatalf("create: %d %s", c.status, c.body)
	}
	return c
}

func (e *testEnv) status(id string) File {
	e.t.Helper()
	g := e.call("GET", "/api/v0/file/"+id, keyA, nil)
	if g.status != http.StatusOK {
		e.t.Fatalf("get %s: %d %s", id, g.status, g.body)
	}
	return g.File
}

func (e *testEnv) wantNothingStored() {
	e.t.Helper()
	if left := e.storedFiles(); len(left) != 0 {
		names := make([]string, 0, len(left))
		for name := range left {
			names = append(names, name)
		}
		e.t.Errorf("the store keeps %d files: %v", len(left), names)
	}
}

func TestUploadURLIsBoundToItsRecord(t *testing.T) {
	e := newEnv(t)
	content := []byte("bound content")
	c := e.pendingFile(content)
	other := e.pendingFile([]byte("other content"))
	u, _ := url.Parse(c.UploadURL)
	q := u.Query()
	with := func(k, v string) string {
		w := *u
		v2 := url.Values{}
		for key := range q {
			v2.Set(key, q.Get(key))
		}
		v2.Set(k, v)
		w.RawQuery = v2.Encode()
		return w.String()
	}
	sig := []byte(q.Get("sig"))
	sig[3] ^= 1
	otherID := strings.Replace(c.UploadURL, c.Rec.ID, other.Rec.ID, 1)
	for name, tc := range map[string]struct {
		url  string
		code string
	}{
		"tampered signature": {with("sig", string(sig)), "upload_url_invalid"},
		"signature removed":  {with("sig", ""), "upload_url_invalid"},
		"other tenant":       {with("tenant", tenantB), "upload_url_invalid"},
		"other hash":         {with("hash", other.Rec.SourceHash), "upload_url_invalid"},
		"later expiry":       {with("expires", fmt.Sprint(time.Now().Add(48*time.Hour).Unix())), "upload_url_invalid"},
		"another file's id":  {otherID, "upload_url_invalid"},
		"expired": {e.url + "/upload/" + c.Rec.ID + "?" +
			e.srv.sign.UploadQuery(tenantA, c.Rec.ID, c.Rec.SourceHash, time.Now().Add(-2*time.Second)), "upload_url_expired"},
	} {
		if r := e.put(tc.url, content); r.status != http.StatusForbidden || r.Code != tc.code {
			t.Errorf("%s: %d %s, want 403 %s", name, r.status, r.body, tc.code)
		}
	}
	if f := e.status(c.Rec.ID); f.Status != "pending" {
		t.Errorf("after rejected uploads the file is %s", f.Status)
	}
	e.wantNothingStored()
	if r := e.put(c.UploadURL, content); r.status != http.StatusOK {
		t.Errorf("the genuine URL: %d %s", r.status, r.body)
	}
}

func TestUploadURLExpiresAfterTTL(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.UploadURLTTL = time.Millisecond })
	content := []byte("too slow")
	c := e.pendingFile(content)
	time.Sleep(1100 * time.Millisecond) // expiry has a resolution of one second
	if r := e.put(c.UploadURL, content); r.status != http.StatusForbidden || r.Code != "upload_url_expired" {
		t.Errorf("put after the TTL: %d %s", r.status, r.body)
	}
}

func TestUploadOfWrongBytesFailsTheFileAndKeepsNothing(t *testing.T) {
	e := newEnv(t)
	c := e.pendingFile([]byte("declared"))
	r := e.put(c.UploadURL, []byte("something else entirely"))
	if r.status != http.StatusUnprocessableEntity || r.Code != "hash_mismatch" {
		t.Fatalf("wrong bytes: %d %s", r.status, r.body)
	}
	if f := e.status(c.Rec.ID); f.Status != "failed" || f.Reason == "" {
		t.Errorf("after wrong bytes the file is %+v", f)
	}
	e.wantNothingStored()
}

func TestUploadCutShortKeepsNothingAndCanBeRetried(t *testing.T) {
	e := newEnv(t)
	content := bytes.Repeat([]byte("0123456789"), 10_000)
	c := e.pendingFile(content)
	u, _ := url.Parse(c.UploadURL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", u.RequestURI(), u.Host, len(content))
	conn.Write(content[:len(content)/2])
	conn.(*net.TCPConn).CloseWrite() // the client dies mid-body
	// The server closes the connection once its handler is done; whatever it
	// managed to answer must not be a success.
	if res, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
		t.Logf("cut-off upload answered %d", res.StatusCode)
		if res.StatusCode < 400 {
			t.Errorf("a cut-off upload answered %d", res.StatusCode)
		}
		io.Copy(io.Discard, res.Body)
	}
	io.Copy(io.Discard, conn)

	if f := e.status(c.Rec.ID); f.Status != "pending" {
		t.Errorf("after a cut-off upload the file is %s", f.Status)
	}
	e.wantNothingStored()
	if r := e.put(c.UploadURL, content); r.status != http.StatusOK || r.Status != "uploaded" {
		t.Errorf("retry: %d %s", r.status, r.body)
	}
}

func TestUploadLargerThanMaxFileSizeIs413(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFileSize = 1024 })
	content := bytes.Repeat([]byte("x"), 2048)
	c := e.pendingFile(content)
	if r := e.put(c.UploadURL, content); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("with Content-Length: %d %s", r.status, r.body)
	}
	// Without Content-Length (chunked) the limit is found while reading.
	req, _ := http.NewRequest("PUT", c.UploadURL, io.MultiReader(bytes.NewReader(content)))
	if r := e.send(req); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked: %d %s", r.status, r.body)
	}
	if f := e.status(c.Rec.ID); f.Status != "pending" {
		t.Errorf("after oversize uploads the file is %s", f.Status)
	}
	e.wantNothingStored()
	small := []byte("exactly within the limit")
	if r := e.put(e.pendingFile(small).UploadURL, small); r.status != http.StatusOK {
		t.Errorf("small file: %d %s", r.status, r.body)
	}
}

func TestSecondUploadAfterSuccessIs409(t *testing.T) {
	e := newEnv(t)
	content := []byte("once is enough")
	c := e.pendingFile(content)
	if r := e.put(c.UploadURL, content); r.status != http.StatusOK {
		t.Fatalf("first put: %d %s", r.status, r.body)
	}
	if r := e.put(c.UploadURL, content); r.status != http.StatusConflict || r.Code != "already_uploaded" {
		t.Errorf("second put: %d %s", r.status, r.body)
	}
	if r := e.put(c.UploadURL, []byte("and not this")); r.status != http.StatusConflict {
		t.Errorf("put of other bytes after success: %d %s", r.status, r.body)
	}
	if f := e.status(c.Rec.ID); f.Status != "uploaded" {
		t.Errorf("file is %s", f.Status)
	}
}

func TestUploadAfterDeleteIs410(t *testing.T) {
	e := newEnv(t)
	content := []byte("deleted before upload")
	c := e.pendingFile(content)
	if d := e.call("DELETE", "/api/v0/file/"+c.Rec.ID, keyA, nil); d.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", d.status, d.body)
	}
	if r := e.put(c.UploadURL, content); r.status != http.StatusGone {
		t.Errorf("put after delete: %d %s", r.status, r.body)
	}
	e.wantNothingStored()
}

func TestLongPollReturnsWhenUploadCompletes(t *testing.T) {
	e := newEnv(t)
	content := []byte("wait for me")
	c := e.pendingFile(content)
	done := make(chan apiResp, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		req, _ := http.NewRequest("PUT", c.UploadURL, bytes.NewReader(content))
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			done <- apiResp{status: res.StatusCode}
		}
		close(done)
	}()
	start := time.Now()
	g := e.call("GET", "/api/v0/file/"+c.Rec.ID+"?wait=5s", keyA, nil)
	took := time.Since(start)
	if p, ok := <-done; !ok || p.status != http.StatusOK {
		t.Fatalf("the concurrent put failed: %+v", p)
	}
	if g.status != http.StatusOK || g.Status != "uploaded" {
		t.Errorf("long poll: %d %s", g.status, g.body)
	}
	if took < 250*time.Millisecond || took > 4*time.Second {
		t.Errorf("long poll took %v; the upload finished after about 300ms", took)
	}
}

func TestLongPollTimesOutWithPending(t *testing.T) {
	e := newEnv(t)
	c := e.pendingFile([]byte("nobody uploads this"))
	start := time.Now()
	g := e.call("GET", "/api/v0/file/"+c.Rec.ID+"?wait=200ms", keyA, nil)
	took := time.Since(start)
	if g.status != http.StatusOK || g.Status != "pending" {
		t.Errorf("long poll: %d %s", g.status, g.body)
	}
	if took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("wait=200ms took %v", took)
	}
	if g := e.call("GET", "/api/v0/file/no-such-id?wait=5s", keyA, nil); g.status != http.StatusNotFound {
		t.Errorf("long poll of an unknown id: %d %s", g.status, g.body)
	}
}
