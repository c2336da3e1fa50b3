package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// loadSpec parses and validates the embedded OpenAPI document.
func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsValidAndServed(t *testing.T) {
	loadSpec(t)
	e := newEnv(t)
	res, err := http.Get(e.url + "/api/v0/openapi.json") // no API key
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" || !bytes.Equal(body, OpenAPI) {
		t.Errorf("GET /api/v0/openapi.json: %d %s, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}
}

// specPath turns a ServeMux pattern's path into an OpenAPI path template.
func specPath(p string) string {
	return strings.ReplaceAll(strings.ReplaceAll(p, "...}", "}"), "{$}", "")
}

func TestOpenAPIDocumentsEveryRouteAndNothingElse(t *testing.T) {
	doc := loadSpec(t)
	e := newEnv(t)
	routes := map[string]bool{}
	for _, pattern := range e.srv.Routes() {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			t.Errorf("route %q names no method: every route must, so the document can say what it accepts", pattern)
			continue
		}
		routes[method+" "+specPath(path)] = true
		item := doc.Paths.Value(specPath(path))
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %q is not in openapi.json", pattern)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			route := method
			if method == http.MethodHead && !routes[method+" "+path] {
				route = http.MethodGet // a GET pattern answers HEAD too
			}
			if !routes[route+" "+path] {
				t.Errorf("openapi.json documents %s %s, which no route serves", method, path)
			}
		}
	}
}

// specChecker is an http.RoundTripper that holds every answer of the server
// at host to the OpenAPI document: the route and status must be documented,
// and the headers and body must match. It records what it saw, so a test can
// demand that every documented answer was really given.
type specChecker struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	host   string

	mu   sync.Mutex
	seen map[string]bool // "METHOD /path/{template} STATUS"
}

func newSpecChecker(t *testing.T, serverURL string) *specChecker {
	doc := loadSpec(t)
	doc.Servers = nil // match on paths alone, whatever port the test server has
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(serverURL)
	return &specChecker{t: t, doc: doc, router: r, host: u.Host, seen: map[string]bool{}}
}

// client returns an HTTP client whose answers are checked; it does not
// follow redirects, so that a redirect is itself checked.
func (c *specChecker) client() *http.Client {
	return &http.Client{Transport: c, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (c *specChecker) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.URL.Host != c.host {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	c.check(req, res.StatusCode, res.Header, body)
	return res, nil
}

func (c *specChecker) check(req *http.Request, status int, hdr http.Header, body []byte) {
	c.t.Helper()
	what := fmt.Sprintf("%s %s → %d", req.Method, req.URL.Path, status)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Errorf("%s: not in openapi.json: %v", what, err)
		return
	}
	c.mu.Lock()
	c.seen[fmt.Sprintf("%s %s %d", route.Method, route.Path, status)] = true
	c.mu.Unlock()
	resp := route.Operation.Responses.Status(status)
	if resp == nil {
		c.t.Errorf("%s: status not documented for %s %s", what, route.Method, route.Path)
		return
	}
	if hdr.Get("X-Request-Id") == "" {
		c.t.Errorf("%s: no X-Request-Id", what)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status, Header: hdr, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	// ValidateResponse passes HEAD and redirects unchecked: check their bodies here.
	if req.Method == http.MethodHead || status/100 == 3 {
		c.checkBody(what, resp.Value, hdr, body)
		return
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		c.t.Errorf("%s: answer does not match openapi.json: %v\nbody: %.300s", what, err, body)
	}
}

// checkBody checks an answer ValidateResponse skips: no body where none is
// documented, otherwise a JSON body matching the documented schema.
func (c *specChecker) checkBody(what string, resp *openapi3.Response, hdr http.Header, body []byte) {
	c.t.Helper()
	if len(body) == 0 {
		return
	}
	mt := resp.Content.Get(strings.Split(hdr.Get("Content-Type"), ";")[0])
	if mt == nil || mt.Schema == nil {
		c.t.Errorf("%s: a %s body where openapi.json documents none", what, hdr.Get("Content-Type"))
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		c.t.Errorf("%s: body is not JSON: %v", what, err)
		return
	}
	if err := mt.Schema.Value.VisitJSON(v); err != nil {
		c.t.Errorf("%s: body does not match openapi.json: %v", what, err)
	}
}

// missing returns every documented answer (method, path, status) the checker
// never saw, except those in skip.
func (c *specChecker) missing(skip map[string]string) []string {
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, status := range op.Responses.Keys() {
				k := fmt.Sprintf("%s %s %s", method, path, status)
				if !c.seen[k] && skip[k] == "" {
					out = append(out, k)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}
