package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// consoleKey is the API key of every server the console's tests start.
const consoleKey = "console-e2e-key-0123456789"

// consoleServer starts perseus serve on a fresh data folder that accepts
// consoleKey, with extra flags.
func consoleServer(t *testing.T, extra ...string) *serverProc {
	t.Helper()
	p := startServer(t, t.TempDir(), append([]string{"--api-key", consoleKey}, extra...)...)
	p.Key = consoleKey
	return p
}

// apiFile is the File object of the API, as the tests read it.
type apiFile struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	SourceHash string `json:"sourceHash"`
	Size       int64  `json:"size"`
	Reason     string `json:"reason"`
}

// call sends an API request with the server's key and returns the status and body.
func call(t *testing.T, p *serverProc, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.Key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// getFile returns the file id as the server has it, and the status of the GET.
func getFile(t *testing.T, p *serverProc, id string) (apiFile, int) {
	t.Helper()
	code, b := call(t, p, "GET", "/api/v0/file/"+id, nil)
	var f apiFile
	if code == http.StatusOK {
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("GET /api/v0/file/%s: %v: %s", id, err, b)
		}
	}
	return f, code
}

// listAll returns every file of the tenant, following nextCursor.
func listAll(t *testing.T, p *serverProc) []apiFile {
	t.Helper()
	var all []apiFile
	cursor := ""
	for {
		code, b := call(t, p, "GET", "/api/v0/file?limit=100&cursor="+url.QueryEscape(cursor), nil)
		if code != http.StatusOK {
			t.Fatalf("GET /api/v0/file: %d %s", code, b)
		}
		var page struct {
			Files      []apiFile `json:"files"`
			NextCursor string    `json:"nextCursor"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Files...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// byName indexes files by name.
func byName(files []apiFile) map[string]apiFile {
	m := map[string]apiFile{}
	for _, f := range files {
		m[f.Name] = f
	}
	return m
}

// create records a file of content named name and returns it with its upload URL.
func create(t *testing.T, p *serverProc, name, sourceHash string) (apiFile, string) {
	t.Helper()
	code, b := call(t, p, "POST", "/api/v0/file", map[string]string{"name": name, "sourceHash": sourceHash})
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("POST /api/v0/file %s: %d %s", name, code, b)
	}
	var res struct {
		File      apiFile `json:"file"`
		UploadURL string  `json:"uploadUrl"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res.File, res.UploadURL
}

// put sends body to an upload URL and returns the status.
func put(t *testing.T, uploadURL string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest("PUT", uploadURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", uploadURL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// uploadHTTP creates and uploads a file of content over the v0 API.
func uploadHTTP(t *testing.T, p *serverProc, name string, content []byte) apiFile {
	t.Helper()
	f, u := create(t, p, name, sha256Hex(content))
	if code := put(t, u, content); code != http.StatusOK {
		t.Fatalf("PUT of %s: %d", name, code)
	}
	return f
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// fileSHA256 is the hex SHA-256 of the file at path.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// bodyBytes returns the server's perseus_http_request_body_bytes_total by route.
func bodyBytes(t *testing.T, p *serverProc) map[string]float64 {
	t.Helper()
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	const name = `perseus_http_request_body_bytes_total{route="`
	for sc.Scan() {
		l, ok := strings.CutPrefix(sc.Text(), name)
		if !ok {
			continue
		}
		route, rest, ok := strings.Cut(l, `"}`)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			t.Fatalf("metrics: %q: %v", sc.Text(), err)
		}
		m[route] += v
	}
	return m
}

// contentBytes is the body bytes the server's content routes read (tus,
// upload PUTs, streamed uploads), out of bodyBytes.
func contentBytes(m map[string]float64) int64 {
	var n float64
	for route, v := range m {
		if strings.Contains(route, "/api/v0/tus/") || strings.HasPrefix(route, "PUT /upload/") || route == "POST /api/v0/file/stream" {
			n += v
		}
	}
	return int64(n)
}

// throttle is a reverse proxy in front of a server that can slow the
// request bodies passing it to a rate, and counts them: the page is loaded
// through it, so that every request of the console passes it.
type throttle struct {
	URL    string
	rate   atomic.Int64 // bytes per second of request bodies; 0: no limit
	passed atomic.Int64 // request body bytes that reached the server
}

func newThrottle(t *testing.T, target string) *throttle {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	th := &throttle{}
	rp := httputil.NewSingleHostReverseProxy(u) // keeps the request's Host: the server's URLs name the proxy
	rp.FlushInterval = -1                       // the events stream goes through as it comes
	rp.ErrorLog = log.New(io.Discard, "", 0)    // a reload cuts a PATCH mid-way: that is the point
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &slowBody{r: r.Body, th: th}
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	th.URL = "http://" + ln.Addr().String()
	return th
}

// slowBody reads a request body at the throttle's rate, in 64 KiB steps.
type slowBody struct {
	r     io.ReadCloser
	th    *throttle
	start time.Time
	n     int64
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	if b.start.IsZero() {
		b.start = time.Now()
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.th.passed.Add(int64(n))
	pace(b.start, b.n, b.th.rate.Load())
	return n, err
}

func (b *slowBody) Close() error { return b.r.Close() }
