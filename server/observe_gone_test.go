package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestClientThatGoesAwayIsCounted499NotAsItsAnswer: an upload whose client
// hangs up half-way and a long poll whose client leaves are counted and
// logged with status 499 and client_gone, not as the 400 (or nothing) the
// handler ended with; and nothing of the upload is kept.
func TestClientThatGoesAwayIsCounted499NotAsItsAnswer(t *testing.T) {
	var logs logBuffer
	e := newEnv(t, jsonLogs(&logs))
	content := randomBytes(4 << 20)
	c := e.pendingFile(content)
	u, _ := url.Parse(c.UploadURL)

	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nX-Request-Id: cut-upload\r\nContent-Length: %d\r\n\r\n", u.RequestURI(), u.Host, len(content))
	conn.Write(content[:1<<20])
	time.Sleep(100 * time.Millisecond)
	conn.Close()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v0/file/"+c.Rec.ID+"?wait=60s", nil)
	req.Header.Set("Authorization", "Bearer "+keyA)
	req.Header.Set("X-Request-Id", "left-poll")
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	start := time.Now()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("a cancelled long poll had an answer")
	}

	for _, id := range []string{"cut-upload", "left-poll"} {
		rec := logs.waitRecord(t, func(r map[string]any) bool { return r["msg"] == "request" && r["request_id"] == id })
		if rec["status"] != float64(StatusClientClosed) || rec["client_gone"] != true || rec["level"] != "INFO" {
			t.Errorf("%s logged as %v; want status 499 and client_gone", id, rec)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the long poll's end was logged %v after it started", d)
	}
	m := e.scrape()
	for _, tc := range []struct {
		labels string
		want   float64
	}{
		{`code="499",route="PUT /upload/{id}"`, 1},
		{`code="400",route="PUT /upload/{id}"`, -1},
		{`code="499",route="GET /api/v0/file/{id}"`, 1},
		{`code="200",route="GET /api/v0/file/{id}"`, -1},
	} {
		if got := metric(m, "perseus_http_requests_total", tc.labels); got != tc.want {
			t.Errorf("perseus_http_requests_total{%s} = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if f := e.status(c.Rec.ID); f.Status != "pending" {
		t.Errorf("after a cut upload the file is %s, want pending", f.Status)
	}
}

// TestAnAnswerTheClientHadIsNotA499: a client that reads its whole answer
// and then closes its connection was served, whatever it does next.
func TestAnAnswerTheClientHadIsNotA499(t *testing.T) {
	var logs logBuffer
	e := newEnv(t, jsonLogs(&logs))
	u, _ := url.Parse(e.url)
	for i := range 20 {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s\r\nX-Request-Id: served-%d\r\n\r\n", u.Host, i)
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := conn.Read(buf)
		conn.Close()
		if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
			t.Fatalf("healthz: %q", buf[:n])
		}
	}
	for i := range 20 {
		rec := logs.waitRecord(t, func(r map[string]any) bool { return r["request_id"] == fmt.Sprintf("served-%d", i) })
		if rec["status"] != float64(200) {
			t.Errorf("a served request logged as %v", rec)
		}
	}
}

// TestPrivateMetricsAreOffTheAPI: with PrivateMetrics, GET /metrics is no
// route of the API, and MetricsHandler serves them, build information included.
func TestPrivateMetricsAreOffTheAPI(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PrivateMetrics = true; c.Version = "9.9.9" })
	if r := e.call("GET", "/metrics", "", nil); r.status != http.StatusNotFound {
		t.Errorf("GET /metrics on the API with PrivateMetrics: %d %s", r.status, r.body)
	}
	for _, p := range e.srv.Routes() {
		if strings.Contains(p, "/metrics") {
			t.Errorf("route %s with PrivateMetrics", p)
		}
	}
	rec := httptest.NewRecorder()
	e.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if want := `perseus_build_info{goversion="go`; !strings.Contains(body, want) || !strings.Contains(body, `version="9.9.9"} 1`) {
		t.Errorf("no perseus_build_info with version 9.9.9 in:\n%s", body)
	}
	if !strings.Contains(body, "go_build_info{") {
		t.Error("no go_build_info")
	}
}

// TestDrainAnswersLongPollsAtOnce: a long poll in progress gets the file as
// it is as soon as the server is drained.
func TestDrainAnswersLongPollsAtOnce(t *testing.T) {
	e := newEnv(t)
	c := e.pendingFile([]byte("drain me"))
	got := make(chan apiResp, 1)
	go func() { got <- e.call("GET", "/api/v0/file/"+c.Rec.ID+"?wait=60s", keyA, nil) }()
	time.Sleep(200 * time.Millisecond)
	e.srv.Drain()
	select {
	case r := <-got:
		if r.status != http.StatusOK || r.Status != "pending" || r.ID != c.Rec.ID {
			t.Errorf("drained long poll: %d %s", r.status, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a long poll still waits 5s after Drain")
	}
}

// TestSilentClientIsNotCountedAsGone: a body that stops arriving is cut by
// the server at the idle limit; its client is still there, so the request
// is counted with the answer it got, not as a client that went away.
func TestSilentClientIsNotCountedAsGone(t *testing.T) {
	old := bodyIdleTimeout
	bodyIdleTimeout = 300 * time.Millisecond
	t.Cleanup(func() { bodyIdleTimeout = old })
	var logs logBuffer
	e := newEnv(t, jsonLogs(&logs))
	content := randomBytes(1 << 20)
	c := e.pendingFile(content)
	u, _ := url.Parse(c.UploadURL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nX-Request-Id: silent\r\nContent-Length: %d\r\n\r\n", u.RequestURI(), u.Host, len(content))
	conn.Write(content[:1000])
	rec := logs.waitRecord(t, func(r map[string]any) bool { return r["msg"] == "request" && r["request_id"] == "silent" })
	if rec["status"] == float64(StatusClientClosed) || rec["client_gone"] != nil {
		t.Errorf("a silent client logged as %v; want the answer it was given", rec)
	}
}
