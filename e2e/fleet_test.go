package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/testenv"
)

// roundRobin is a load balancer in front of replicas: each request goes to
// the next one in turn, as a balancer without affinity spreads them.
type roundRobin struct {
	*httptest.Server
	mu      sync.Mutex
	targets []*url.URL
	next    int
	count   map[string]int // requests per replica
}

func newRoundRobin(t *testing.T) *roundRobin {
	rr := &roundRobin{count: map[string]int{}}
	rr.Server = httptest.NewServer(&httputil.ReverseProxy{Rewrite: rr.rewrite})
	t.Cleanup(rr.Close)
	return rr
}

// add puts a replica behind the balancer.
func (rr *roundRobin) add(t *testing.T, raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	rr.mu.Lock()
	rr.targets = append(rr.targets, u)
	rr.mu.Unlock()
}

func (rr *roundRobin) rewrite(r *httputil.ProxyRequest) {
	rr.mu.Lock()
	u := rr.targets[rr.next%len(rr.targets)]
	rr.next++
	rr.count[u.Host]++
	rr.mu.Unlock()
	r.SetURL(u)
}

// partCounter counts the bytes of part PUTs an SDK client sends (to S3 or
// through a server) and can cut the upload off once n parts are stored.
type partCounter struct {
	rt     http.RoundTripper
	bytes  atomic.Int64
	stored atomic.Int64
	stopAt int64
	cancel context.CancelFunc
}

func isPart(r *http.Request) bool {
	return r.Method == http.MethodPut && (strings.Contains(r.URL.Path, "/parts/") || r.URL.Query().Has("partNumber"))
}

func (c *partCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if !isPart(r) {
		return c.rt.RoundTrip(r)
	}
	c.bytes.Add(r.ContentLength)
	resp, err := c.rt.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusOK && c.stored.Add(1) == c.stopAt && c.cancel != nil {
		c.cancel() // as a crash or Ctrl-C right after this part was stored
	}
	return resp, err
}

func fleetClient(t *testing.T, host string, pc *partCounter) *perseus.Client {
	t.Helper()
	c, err := perseus.NewClient(perseus.WithHost(host), perseus.WithAPIKey("fleet-key"),
		perseus.WithHTTPClient(&http.Client{Transport: pc}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFleetWithOneSigningKeyBehindARoundRobinBalancer: two replicas with
// different --data directories and the same --signing-key, behind a
// balancer that spreads every request, take a multipart upload of more than
// two parts, straight to S3 and through the servers; an upload cut off on
// one replica resumes on the other and sends only the parts that are
// missing; and a replica started with another key says so (403
// signing_key_unknown, naming the key) instead of starting the upload over.
func TestFleetWithOneSigningKeyBehindARoundRobinBalancer(t *testing.T) {
	const part = 5 << 20
	for _, tc := range []struct{ name, blobs string }{
		{"s3", testenv.S3URL(t, "fleet")},
		{"through the servers", "file://" + t.TempDir()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pg := freshSchema(t)
			rr := newRoundRobin(t)
			flags := []string{"--db", pg, "--blobs", tc.blobs, "--api-key", "fleet-key", "--public-url", rr.URL}
			a := startServer(t, t.TempDir(), flags...)
			b := startServer(t, t.TempDir(), flags...)
			rr.add(t, a.URL)
			rr.add(t, b.URL)
			ctx := context.Background()

			// Every request spread across both replicas: the upload completes.
			path, hash := writeRandom(t, t.TempDir(), "big.bin", 3*part+123)
			f, err := fleetClient(t, rr.URL, &partCounter{rt: http.DefaultTransport}).File.UploadFile(ctx, path,
				perseus.WithPartSize(part), perseus.WithParallelParts(2))
			if err != nil {
				t.Fatalf("upload through the balancer: %v\nreplica a:\n%s\nreplica b:\n%s", err, a.log.String(), b.log.String())
			}
			if f, err = fleetClient(t, rr.URL, &partCounter{rt: http.DefaultTransport}).File.WaitForFileUpload(ctx, f.ID,
				perseus.WithTimeout(30*time.Second)); err != nil || f.SourceHash != hash || f.Size != 3*part+123 {
				t.Fatalf("after the upload through the balancer: %+v, %v", f, err)
			}
			rr.mu.Lock()
			if len(rr.count) != 2 {
				t.Errorf("the balancer reached %v, want both replicas", rr.count)
			}
			rr.mu.Unlock()

			// In parts (on S3 the default; on file:// blobs the default goes
			// in order through tus, which the first upload above took across
			// both replicas): cut off on replica a after two of four parts;
			// run again on b.
			path, hash = writeRandom(t, t.TempDir(), "resumed.bin", 3*part+456)
			cut, cancel := context.WithCancel(ctx)
			defer cancel()
			first := &partCounter{rt: http.DefaultTransport, stopAt: 2, cancel: cancel}
			_, err = fleetClient(t, a.URL, first).File.UploadFile(cut, path, perseus.WithPartSize(part), perseus.WithParallelParts(1), perseus.WithParts(true))
			if !errors.Is(err, context.Canceled) || first.stored.Load() != 2 {
				t.Fatalf("the cut-off upload: %v after %d parts stored, want context.Canceled after 2", err, first.stored.Load())
			}

			// A replica given the same key id with another secret (as when
			// each host made its own) refuses to start it over, and says so.
			wrong := startServer(t, t.TempDir(), append(flags, "--signing-key", "e2e=ffffffffffffffffffffffffffffffffff")...)
			_, err = fleetClient(t, wrong.URL, &partCounter{rt: http.DefaultTransport}).File.UploadFile(ctx, path,
				perseus.WithPartSize(part), perseus.WithParallelParts(1), perseus.WithParts(true))
			var ae *perseus.APIError
			if !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden || ae.Code != "signing_key_unknown" || !strings.Contains(ae.Message, `"e2e"`) || !strings.Contains(ae.Message, "another secret") {
				t.Fatalf("resume on a replica whose key e2e has another secret: %v; want 403 signing_key_unknown saying so", err)
			}

			second := &partCounter{rt: http.DefaultTransport}
			got, err := fleetClient(t, b.URL, second).File.UploadFile(ctx, path, perseus.WithPartSize(part), perseus.WithParallelParts(1), perseus.WithParts(true))
			if err != nil {
				t.Fatalf("resume on replica b: %v\n%s", err, b.log.String())
			}
			if want := int64(part + 456); second.bytes.Load() != want {
				t.Errorf("resume on replica b sent %d part bytes, want %d (parts 3 and 4 only)", second.bytes.Load(), want)
			}
			if got, err = fleetClient(t, a.URL, &partCounter{rt: http.DefaultTransport}).File.WaitForFileUpload(ctx, got.ID,
				perseus.WithTimeout(30*time.Second)); err != nil || got.SourceHash != hash {
				t.Fatalf("the resumed file, seen on replica a: %+v, %v", got, err)
			}
		})
	}
}
