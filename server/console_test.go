package server

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// consoleAssetRef finds what index.html loads from assets/.
var consoleAssetRef = regexp.MustCompile(`(?:src|href)="(?:\./|/)?assets/([^"]+)"`)

// consoleGet sends a request for a console path and returns the answer and its body.
func consoleGet(t *testing.T, c *http.Client, method, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// wantConsoleHeaders checks the headers every answer of the console carries.
func wantConsoleHeaders(t *testing.T, what string, res *http.Response) {
	t.Helper()
	for k, v := range map[string]string{"Content-Security-Policy": consoleCSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s: %s %q, want %q", what, k, got, v)
		}
	}
}

// consoleAnswers drives the console's routes through a specChecker and
// returns what it saw: the page and each of its assets, 304 to a client
// that has them, and the JSON 404 of an unknown asset.
func consoleAnswers(t *testing.T) map[string]bool {
	e := newEnv(t)
	chk := newSpecChecker(t, e.url)
	c := chk.client()

	res, page := consoleGet(t, c, "GET", e.url+"/")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(page, "<html") {
		t.Fatalf("GET /: %d %s\n%.200s", res.StatusCode, res.Header.Get("Content-Type"), page)
	}
	wantConsoleHeaders(t, "GET /", res)
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("GET /: Cache-Control %q, want no-cache (a new build must be seen at once)", cc)
	}
	for _, method := range []string{"GET", "HEAD"} {
		if r, _ := consoleGet(t, c, method, e.url+"/", "If-None-Match", res.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
			t.Errorf("%s / with its ETag: %d, want 304", method, r.StatusCode)
		}
	}
	if r, body := consoleGet(t, c, "HEAD", e.url+"/"); r.StatusCode != http.StatusOK || body != "" || r.Header.Get("Content-Length") != res.Header.Get("Content-Length") {
		t.Errorf("HEAD /: %d, Content-Length %s, %d bytes of body", r.StatusCode, r.Header.Get("Content-Length"), len(body))
	}

	refs := consoleAssetRef.FindAllStringSubmatch(page, -1)
	if len(refs) == 0 {
		t.Fatalf("index.html loads nothing from assets/:\n%s", page)
	}
	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for _, ref := range refs {
		u := e.url + "/assets/" + ref[1]
		r, body := consoleGet(t, c, "GET", u)
		ext := ref[1][strings.LastIndex(ref[1], "."):]
		if r.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET /assets/%s (loaded by index.html): %d, %d bytes", ref[1], r.StatusCode, len(body))
			continue
		}
		if want := wantType[ext]; want != "" && r.Header.Get("Content-Type") != want {
			t.Errorf("GET /assets/%s: Content-Type %q, want %q", ref[1], r.Header.Get("Content-Type"), want)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET /assets/%s: Cache-Control %q", ref[1], cc)
		}
		wantConsoleHeaders(t, "GET /assets/"+ref[1], r)
		for _, method := range []string{"GET", "HEAD"} {
			if r2, _ := consoleGet(t, c, method, u, "If-None-Match", r.Header.Get("ETag")); r2.StatusCode != http.StatusNotModified {
				t.Errorf("%s /assets/%s with its ETag: %d, want 304", method, ref[1], r2.StatusCode)
			}
		}
		if r2, body := consoleGet(t, c, "HEAD", u); r2.StatusCode != http.StatusOK || body != "" || r2.Header.Get("Content-Length") != r.Header.Get("Content-Length") {
			t.Errorf("HEAD /assets/%s: %d, Content-Length %s, %d bytes of body", ref[1], r2.StatusCode, r2.Header.Get("Content-Length"), len(body))
		}
	}

	for _, p := range []string{"/assets/nope.js", "/assets/%2e%2e%2fweb.go"} {
		client := c
		if strings.Contains(p, "%") {
			client = http.DefaultClient // the document's router cannot match an escaped slash
		}
		r, body := consoleGet(t, client, "GET", e.url+p)
		if r.StatusCode != http.StatusNotFound || !strings.Contains(body, `"not_found"`) {
			t.Errorf("GET %s: %d %s, want the JSON 404", p, r.StatusCode, body)
		}
		wantConsoleHeaders(t, "GET "+p, r)
	}
	if r, _ := consoleGet(t, c, "HEAD", e.url+"/assets/nope.js"); r.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD /assets/nope.js: %d, want 404", r.StatusCode)
	}
	// Not a route of the console: the mux's JSON 404, unchecked by the document.
	if r, body := consoleGet(t, http.DefaultClient, "GET", e.url+"/assets/"); r.StatusCode != http.StatusNotFound || !strings.Contains(body, `"not_found"`) {
		t.Errorf("GET /assets/: %d %s, want the JSON 404 (no listing)", r.StatusCode, body)
	}
	return chk.seen
}

func TestConsoleServesItsPageAndAssetsWithTheirHeaders(t *testing.T) {
	consoleAnswers(t)
}

func TestConsoleOffAnswersTheAPIAlone(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.NoConsole = true })
	for _, p := range []string{"/", "/assets/app.js"} {
		res, body := consoleGet(t, http.DefaultClient, "GET", e.url+p)
		if res.StatusCode != http.StatusNotFound || !strings.Contains(body, `"not_found"`) || res.Header.Get("Content-Security-Policy") != "" {
			t.Errorf("NoConsole: GET %s: %d %s", p, res.StatusCode, body)
		}
	}
	for _, r := range e.srv.Routes() {
		if strings.HasPrefix(r, "GET /assets/") || r == "GET /{$}" {
			t.Errorf("NoConsole: route %q registered", r)
		}
	}
	if r := e.call("GET", "/healthz", "", nil); r.status != http.StatusOK {
		t.Errorf("NoConsole: GET /healthz %d", r.status)
	}
}
