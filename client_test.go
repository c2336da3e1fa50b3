package perseus

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	// baseURLPath is a non-empty path prefix of the API host, so that every
	// test also proves the client keeps the prefix of the host it is given.
	baseURLPath = "/api-prefix"
	testKey     = "test-key"
)

// fastRetry retries like the default policy but without making tests wait.
var fastRetry = RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// setup starts a test HTTP server and returns a client pointed at it, the mux
// to register handlers on (paths without baseURLPath), and the server's URL.
// Requests outside baseURLPath fail the test.
func setup(t *testing.T, opts ...Option) (client *Client, mux *http.ServeMux, serverURL string) {
	t.Helper()
	mux = http.NewServeMux()
	outer := http.NewServeMux()
	outer.Handle(baseURLPath+"/", http.StripPrefix(baseURLPath, mux))
	outer.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the host's path prefix: %s %s", r.Method, r.URL)
		http.Error(w, "outside the prefix", http.StatusBadRequest)
	})
	srv := httptest.NewServer(outer)
	t.Cleanup(srv.Close)
	opts = append([]Option{WithHost(srv.URL + baseURLPath), WithAPIKey(testKey), WithRetry(fastRetry)}, opts...)
	client, err := NewClient(opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return client, mux, srv.URL
}

func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	if r.Method != want {
		t.Errorf("request method = %s, want %s", r.Method, want)
	}
}

func testHeader(t *testing.T, r *http.Request, header, want string) {
	t.Helper()
	if got := r.Header.Get(header); got != want {
		t.Errorf("header %s = %q, want %q", header, got, want)
	}
}

// testJSONBody checks that the request body is exactly the JSON want: same
// fields, no more, no fewer.
func testJSONBody(t *testing.T, r *http.Request, want string) {
	t.Helper()
	testHeader(t, r, "Content-Type", "application/json")
	data, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("read request body: %v", err)
	}
	var got, exp any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("request body %q is not JSON: %v", data, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad test JSON %q: %v", want, err)
	}
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Errorf("request body mismatch (-want +got):\n%s", diff)
	}
}

// writeJSON answers status with body, as the contract says every answer is.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func TestNewClient_readsHostWithPrefixAndKeyFromEnvironment(t *testing.T) {
	var gotPath, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.Path, r.Header.Get("Authorization")
		writeJSON(w, http.StatusOK, `{"files":[]}`)
	}))
	defer srv.Close()
	t.Setenv("PERSEUS_API_HOST", srv.URL+"/prefix")
	t.Setenv("LETTRIA_API_KEY", "env-key")

	c, err := NewClient()
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if _, err := c.File.FindFiles(t.Context(), FindQuery{IDs: []string{"x"}}); err != nil {
		t.Fatalf("FindFiles: %v", err)
	}
	if want := "/prefix/api/v0/file/find"; gotPath != want {
		t.Errorf("path = %q, want %q", gotPath, want)
	}
	if want := "Bearer env-key"; gotAuth != want {
		t.Errorf("Authorization = %q, want %q", gotAuth, want)
	}
}

func TestNewClient_usesDefaultHostAndNoKeyWhenEnvironmentIsUnset(t *testing.T) {
	t.Setenv("PERSEUS_API_HOST", "")
	t.Setenv("LETTRIA_API_KEY", "")
	c, err := NewClient()
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if got := c.base.String(); got != DefaultHost {
		t.Errorf("host = %q, want %q", got, DefaultHost)
	}
	if c.apiKey != "" {
		t.Errorf("API key = %q, want none", c.apiKey)
	}
	if diff := cmp.Diff(DefaultRetry, c.retry); diff != "" {
		t.Errorf("retry policy mismatch (-want +got):\n%s", diff)
	}
}

func TestNewClient_optionsOverrideEnvironment(t *testing.T) {
	t.Setenv("PERSEUS_API_HOST", "not a url")
	t.Setenv("LETTRIA_API_KEY", "env-key")
	c, err := NewClient(WithHost("https://files.example.com/v"), WithAPIKey("opt-key"))
	if err != nil {
		t.Fatalf("NewClient with a bad PERSEUS_API_HOST but WithHost: %v", err)
	}
	if got, want := c.endpoint("/api/v0/file"), "https://files.example.com/v/api/v0/file"; got != want {
		t.Errorf("endpoint = %q, want %q", got, want)
	}
	if c.apiKey != "opt-key" {
		t.Errorf("API key = %q, want opt-key", c.apiKey)
	}
}

func TestNewClient_rejectsBadEnvironment(t *testing.T) {
	tests := []struct{ name, host, key string }{
		{"host without scheme", "127.0.0.1:8080", "k"},
		{"host of another scheme", "ftp://example.com", "k"},
		{"key with whitespace", "http://127.0.0.1:8080", "bad key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PERSEUS_API_HOST", tt.host)
			t.Setenv("LETTRIA_API_KEY", tt.key)
			if c, err := NewClient(); err == nil {
				t.Errorf("NewClient() = %v, nil; want an error", c)
			}
		})
	}
}

func TestNewClient_rejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
	}{
		{"empty host", WithHost("")},
		{"host without scheme", WithHost("127.0.0.1:8080")},
		{"host of another scheme", WithHost("ftp://example.com")},
		{"host without a host", WithHost("http://")},
		{"unparsable host", WithHost("http://[::1")},
		{"empty API key", WithAPIKey("")},
		{"API key with a space", WithAPIKey("a b")},
		{"API key with a newline", WithAPIKey("key\n")},
		{"nil HTTP client", WithHTTPClient(nil)},
		{"empty user agent", WithUserAgent("")},
		{"negative attempts", WithRetry(RetryPolicy{MaxAttempts: -1})},
		{"negative base delay", WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: -time.Second})},
		{"negative max delay", WithRetry(RetryPolicy{MaxAttempts: 2, MaxDelay: -time.Second})},
		{"negative max elapsed", WithRetry(RetryPolicy{MaxElapsed: -time.Second})},
		{"max elapsed without delays", WithRetry(RetryPolicy{MaxElapsed: time.Minute})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(WithHost("http://127.0.0.1:1"), tt.opt)
			if err == nil {
				t.Fatalf("NewClient() = %v, nil; want an error", c)
			}
			if c != nil {
				t.Errorf("NewClient() returned a client with the error %v", err)
			}
		})
	}
}

func TestClient_keepsPathPrefixOfHost(t *testing.T) {
	for _, suffix := range []string{"/prefix", "/prefix/", "/a/b"} {
		t.Run(suffix, func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.URL.Path
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			c, err := NewClient(WithHost(srv.URL+suffix), WithAPIKey(testKey))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.File.DeleteFile(t.Context(), "f1"); err != nil {
				t.Fatalf("DeleteFile: %v", err)
			}
			if want := strings.TrimSuffix(suffix, "/") + "/api/v0/file/f1"; got != want {
				t.Errorf("path = %q, want %q", got, want)
			}
		})
	}
}

func TestClient_sendsBearerKeyAndUserAgent(t *testing.T) {
	tests := []struct {
		name   string
		opts   []Option
		wantUA string
	}{
		{"default user agent", nil, "perseus-go/" + Version},
		{"WithUserAgent", []Option{WithUserAgent("my-app/2")}, "my-app/2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t, tt.opts...)
			mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
				testHeader(t, r, "Authorization", "Bearer "+testKey)
				testHeader(t, r, "User-Agent", tt.wantUA)
				testHeader(t, r, "Accept", "application/json")
				writeJSON(w, http.StatusOK, `{"files":[]}`)
			})
			if _, err := client.File.FindFiles(t.Context(), FindQuery{}); err != nil {
				t.Fatalf("FindFiles: %v", err)
			}
		})
	}
}

type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestClient_usesGivenHTTPClient(t *testing.T) {
	tr := &countingTransport{}
	client, mux, _ := setup(t, WithHTTPClient(&http.Client{Transport: tr}))
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"files":[]}`)
	})
	if _, err := client.File.FindFiles(t.Context(), FindQuery{}); err != nil {
		t.Fatalf("FindFiles: %v", err)
	}
	if got := tr.n.Load(); got != 1 {
		t.Errorf("requests through the given client = %d, want 1", got)
	}
}

// TestNewClient_takesAReplacedDefaultTransportAsItIs: a program that
// wrapped http.DefaultTransport (a tracer, a mock) still gets a client,
// which goes through it.
func TestNewClient_takesAReplacedDefaultTransportAsItIs(t *testing.T) {
	was := http.DefaultTransport
	defer func() { http.DefaultTransport = was }()
	var through atomic.Int32
	http.DefaultTransport = roundTripper(func(r *http.Request) (*http.Response, error) {
		through.Add(1)
		return was.RoundTrip(r)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, err := NewClient(WithHost(srv.URL), WithAPIKey(testKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.File.Limits(t.Context()); err != nil || through.Load() != 1 {
		t.Fatalf("Limits: %v, %d requests through the replaced transport; want 1", err, through.Load())
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
