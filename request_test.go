package perseus

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNewRequest_keyGoesOnlyToAPIPaths: an API path goes to the client's
// host with the key; a URL the server handed out goes as it is, without
// the key, even when it points at the API's own host or looks like a path.
func TestNewRequest_keyGoesOnlyToAPIPaths(t *testing.T) {
	c, err := NewClient(WithHost("http://api.example/prefix"), WithAPIKey(testKey), WithUserAgent("ua/1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		r        request
		wantURL  string
		wantAuth string
	}{
		{"API path", request{method: http.MethodGet, path: "/api/v0/file?limit=3"}, "http://api.example/prefix/api/v0/file?limit=3", "Bearer " + testKey},
		{"store URL", request{method: http.MethodPut, url: "http://s3.example/b/k?X-Amz-Signature=s"}, "http://s3.example/b/k?X-Amz-Signature=s", ""},
		{"upload URL on the API host", request{method: http.MethodPut, url: "http://api.example/prefix/upload/f1?sig=s"}, "http://api.example/prefix/upload/f1?sig=s", ""},
		{"handed-out URL that looks like a path", request{method: http.MethodPut, url: "/upload/f1?sig=s"}, "/upload/f1?sig=s", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := c.newRequest(t.Context(), tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if req.URL.String() != tc.wantURL || req.Method != tc.r.method {
				t.Errorf("request = %s %s, want %s %s", req.Method, req.URL, tc.r.method, tc.wantURL)
			}
			if got := req.Header.Get("Authorization"); got != tc.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tc.wantAuth)
			}
			if got := req.Header.Get("User-Agent"); got != "ua/1" {
				t.Errorf("User-Agent = %q, want ua/1", got)
			}
		})
	}
}

// TestNewRequest_bodies: JSON goes with its type and length and can be sent
// again (GetBody); a section of a file goes with its length, through a
// body of its own that the transport cannot replay behind the retry
// policy's back; an empty section is no body at all.
func TestNewRequest_bodies(t *testing.T) {
	c, err := NewClient(WithHost("http://api.example"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := c.newRequest(t.Context(), request{method: http.MethodPost, path: "/api/v0/file/find", body: FindQuery{IDs: []string{"a"}},
		header: map[string]string{"Accept": "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ids":["a"]}`
	if req.Header.Get("Content-Type") != "application/json" || req.Header.Get("Accept") != "application/json" ||
		req.ContentLength != int64(len(want)) || req.GetBody == nil {
		t.Errorf("JSON request: Content-Type %q, Accept %q, length %d, GetBody %v", req.Header.Get("Content-Type"),
			req.Header.Get("Accept"), req.ContentLength, req.GetBody != nil)
	}
	if b, _ := io.ReadAll(req.Body); string(b) != want {
		t.Errorf("JSON body = %s, want %s", b, want)
	}

	req, err = c.newRequest(t.Context(), request{method: http.MethodDelete, path: "/api/v0/file/a"})
	if err != nil || req.Header.Get("Content-Type") != "" || req.ContentLength != 0 {
		t.Errorf("request without a body: %v, Content-Type %q, length %d", err, req.Header.Get("Content-Type"), req.ContentLength)
	}

	content := []byte("0123456789")
	f, err := os.Open(writeTemp(t, "s.bin", content))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	req, err = c.newRequest(t.Context(), request{method: http.MethodPut, url: "http://s3.example/k", body: section{f, 2, 5, nil},
		header: map[string]string{"x-amz-checksum-sha256": "abc"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := req.Body.(*fileBody); !ok || req.ContentLength != 5 || req.GetBody != nil || req.Header.Get("Content-Type") != "" ||
		req.Header.Get("X-Amz-Checksum-Sha256") != "abc" {
		t.Errorf("section request: body %T, length %d, GetBody %v, Content-Type %q, headers %v",
			req.Body, req.ContentLength, req.GetBody != nil, req.Header.Get("Content-Type"), req.Header)
	}
	if b, _ := io.ReadAll(req.Body); !bytes.Equal(b, content[2:7]) {
		t.Errorf("section body = %q, want %q", b, content[2:7])
	}
	req.Body.Close()

	req, err = c.newRequest(t.Context(), request{method: http.MethodPut, url: "http://s3.example/k", body: section{f, 0, 0, nil}})
	if err != nil || req.Body != http.NoBody || req.ContentLength != 0 {
		t.Errorf("empty section: %v, body %T, length %d; want http.NoBody and 0", err, req.Body, req.ContentLength)
	}
}

// TestDo_networkErrorsHideTheQueryOfHandedOutURLsOnly: a network error on a
// URL the server handed out does not show its query (a credential); on an
// API path, it shows the request as it was.
func TestDo_networkErrorsHideTheQueryOfHandedOutURLsOnly(t *testing.T) {
	client, mux, serverURL := setup(t, WithRetry(RetryPolicy{}))
	drop := func(w http.ResponseWriter, r *http.Request) { closeConnection(t, w) }
	mux.HandleFunc("GET /api/v0/file/f1", drop)
	mux.HandleFunc("GET /upload/f1", drop)

	err := client.do(t.Context(), request{method: http.MethodGet, url: uploadURLOf(serverURL)}, nil)
	var ue *url.Error
	if !errors.As(err, &ue) || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "/upload/f1") {
		t.Errorf("handed-out URL: %v; want a *url.Error naming the URL without its query", err)
	}
	err = client.do(t.Context(), request{method: http.MethodGet, path: "/api/v0/file/f1?wait=1s"}, nil)
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "wait=1s") {
		t.Errorf("API path: %v; want a *url.Error with the whole URL", err)
	}
}

// TestDo_onceSendsOnce: a request sent once is not retried, whatever the answer.
func TestDo_onceSendsOnce(t *testing.T) {
	client, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("POST /api/v0/file/stream", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, http.StatusServiceUnavailable, `{"message":"busy"}`)
	})
	err := client.do(t.Context(), request{method: http.MethodPost, path: "/api/v0/file/stream", once: true}, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable || calls.Load() != 1 {
		t.Errorf("do = %v after %d requests; want the 503 after 1", err, calls.Load())
	}
}

// TestDo_redirectGoesToItsHandlerNotFollowed: with a redirect handler, a
// redirect is handed to it, not followed; without, it is followed.
func TestDo_redirectGoesToItsHandlerNotFollowed(t *testing.T) {
	client, mux, _ := setup(t)
	var followed atomic.Int32
	mux.HandleFunc("GET /api/v0/from", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, baseURLPath+"/api/v0/to", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("GET /api/v0/to", func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		writeJSON(w, http.StatusOK, `{}`)
	})
	var locations []string
	r := request{method: http.MethodGet, path: "/api/v0/from", redirect: func(resp *http.Response) error {
		locations = append(locations, resp.Header.Get("Location"))
		return nil
	}}
	if err := client.do(t.Context(), r, func(*http.Response) error { return errors.New("handle called for a redirect") }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{baseURLPath + "/api/v0/to"}, locations); diff != "" || followed.Load() != 0 {
		t.Errorf("redirects handed over (-want +got):\n%s; followed %d times, want 0", diff, followed.Load())
	}
	r.redirect = nil
	if err := client.do(t.Context(), r, nil); err != nil || followed.Load() != 1 {
		t.Errorf("without a redirect handler: %v, followed %d times; want it followed once", err, followed.Load())
	}
}
