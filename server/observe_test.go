package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects log output; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records returns the JSON log records written so far.
func (l *logBuffer) records(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// waitRecord returns the first record that match accepts, waiting a little
// for it: the access line is written as the handler returns, which may be
// just after the client has its answer.
func (l *logBuffer) waitRecord(t *testing.T, match func(map[string]any) bool) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, r := range l.records(t) {
			if match(r) {
				return r
			}
		}
	}
	t.Fatalf("no such log record in:\n%s", l.b.String())
	return nil
}

func jsonLogs(buf *logBuffer) func(*Config) {
	return func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

func TestRequestIDIsHonouredOrMadeAndLogged(t *testing.T) {
	var logs logBuffer
	e := newEnv(t, jsonLogs(&logs))
	get := func(id string) string {
		req, _ := http.NewRequest("GET", e.url+"/api/v0/file/nope", nil)
		req.Header.Set("Authorization", "Bearer "+keyA)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header.Get("X-Request-Id")
	}
	if got := get("trace-42/abc"); got != "trace-42/abc" {
		t.Errorf("sent X-Request-Id trace-42/abc, got back %q", got)
	}
	made := get("")
	if len(made) < 16 {
		t.Errorf("no X-Request-Id sent, got back %q; want a fresh id", made)
	}
	if again := get(""); again == made {
		t.Errorf("two requests got the same id %q", made)
	}
	for _, bad := range []string{"has space", strings.Repeat("x", 129), "tab\there"} {
		if got := get(bad); got == bad || got == "" {
			t.Errorf("sent X-Request-Id %q, got back %q; want a fresh id instead", bad, got)
		}
	}

	rec := logs.waitRecord(t, func(r map[string]any) bool { return r["request_id"] == made })
	for k, want := range map[string]any{"msg": "request", "method": "GET", "path": "/api/v0/file/nope",
		"route": "GET /api/v0/file/{id}", "status": float64(404), "level": "INFO"} {
		if rec[k] != want {
			t.Errorf("access log %s = %v, want %v (record %v)", k, rec[k], want, rec)
		}
	}
	for _, k := range []string{"duration", "bytes_in", "bytes_out", "remote"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("access log has no %s: %v", k, rec)
		}
	}

	// A handler's own log lines carry the id of the request they belong to.
	e.meta.down.Store(true)
	get("outage-1")
	e.meta.down.Store(false)
	fail := logs.waitRecord(t, func(r map[string]any) bool { return r["msg"] == "store failure" })
	if fail["request_id"] != "outage-1" {
		t.Errorf("store failure logged without its request id: %v", fail)
	}
	access := logs.waitRecord(t, func(r map[string]any) bool { return r["msg"] == "request" && r["request_id"] == "outage-1" })
	if access["level"] != "ERROR" || access["status"] != float64(503) {
		t.Errorf("a 503 is logged as %v", access)
	}
}

func TestAccessLogKeepsUploadCredentialsOut(t *testing.T) {
	var logs logBuffer
	e := newEnv(t, jsonLogs(&logs))
	c := e.create(keyA, "a.txt", []byte("a"))
	e.put(c.UploadURL, []byte("a"))
	rec := logs.waitRecord(t, func(r map[string]any) bool { return r["route"] == "PUT /upload/{id}" })
	if rec["path"] != "/upload/"+c.Rec.ID || strings.Contains(logs.b.String(), "sig=") {
		t.Errorf("upload logged as %v; the signature must stay out of logs", rec)
	}
	if rec["bytes_in"] != float64(1) {
		t.Errorf("upload bytes_in = %v, want 1", rec["bytes_in"])
	}
}

// scrape fetches /metrics (no API key) and returns its lines.
func (e *testEnv) scrape() string {
	e.t.Helper()
	res, err := http.Get(e.url + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		e.t.Fatalf("/metrics: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	return string(b)
}

// metric returns the value of the sample name{labels} in a scrape (labels
// as exposed: sorted, quoted; none for a plain sample), or -1 if there is none.
func metric(scrape, name, labels string) float64 {
	sample := name
	if labels != "" {
		sample += "{" + labels + "}"
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`)
	m := re.FindStringSubmatch(scrape)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestMetricsCountRequestsBytesUploadsTransitionsAndStoreErrors(t *testing.T) {
	e := newEnv(t)
	content := bytes.Repeat([]byte("m"), 5000)
	f := e.upload(keyA, "m.bin", content)
	bad := e.create(keyA, "bad.bin", []byte("declared"))
	e.put(bad.UploadURL, []byte("other"))
	e.download("GET", keyA, f.ID, nil)
	e.call("GET", "/api/v0/file/nope", keyA, nil)
	e.call("DELETE", "/api/v0/file/"+f.ID, keyA, nil)
	e.meta.down.Store(true)
	e.call("GET", "/api/v0/file", keyA, nil)
	e.meta.down.Store(false)
	third := e.create(keyA, "third.bin", []byte("third"))
	e.blobs.down.Store(true)
	e.put(third.UploadURL, []byte("third"))
	e.blobs.down.Store(false)

	m := e.scrape()
	for _, tc := range []struct {
		name, labels string
		want         float64
	}{
		{"perseus_http_requests_total", `code="201",route="POST /api/v0/file"`, 3},
		{"perseus_http_requests_total", `code="200",route="PUT /upload/{id}"`, 1},
		{"perseus_http_requests_total", `code="422",route="PUT /upload/{id}"`, 1},
		{"perseus_http_requests_total", `code="404",route="GET /api/v0/file/{id}"`, 1},
		{"perseus_http_requests_total", `code="503",route="GET /api/v0/file"`, 1},
		{"perseus_http_request_body_bytes_total", `route="PUT /upload/{id}"`, 5000 + 5},
		{"perseus_http_response_body_bytes_total", `route="GET /api/v0/file/{id}/content"`, 5000},
		{"perseus_upload_duration_seconds_count", `code="200",route="PUT /upload/{id}"`, 1},
		{"perseus_upload_duration_seconds_count", `code="422",route="PUT /upload/{id}"`, 1},
		{"perseus_http_request_duration_seconds_count", `route="POST /api/v0/file"`, 3},
		{"perseus_file_status_transitions_total", `from="none",to="pending"`, 3},
		{"perseus_file_status_transitions_total", `from="pending",to="uploaded"`, 1},
		{"perseus_file_status_transitions_total", `from="pending",to="failed"`, 1},
		{"perseus_file_status_transitions_total", `from="uploaded",to="deleted"`, 1},
		{"perseus_store_errors_total", `op="list",store="meta"`, 1},
		{"perseus_store_errors_total", `op="create",store="blob"`, 1},
		{"perseus_http_requests_in_flight", ``, 1}, // the scrape itself
	} {
		if got := metric(m, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s{%s} = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if !strings.Contains(m, "go_goroutines ") || !strings.Contains(m, "process_") {
		t.Error("no Go or process metrics")
	}

	// Each server has its own registry: a second one starts from zero.
	if other := newEnv(t).scrape(); metric(other, "perseus_http_requests_total", `code="201",route="POST /api/v0/file"`) != -1 {
		t.Error("a new server sees another server's counts")
	}
}
