package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/testenv"
)

// TestBackendLossAnswers503AndRecoversWithoutRestart cuts PostgreSQL and then
// S3 away from a running `perseus serve` (a TCP proxy in front of each real
// server): while one is gone, requests that need it answer 503 with a message
// and nothing is reported uploaded; once it is back, the same process serves
// again and nothing uploaded before was lost.
func TestBackendLossAnswers503AndRecoversWithoutRestart(t *testing.T) {
	pgURL, err := url.Parse(freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	s3URL, err := url.Parse(testenv.S3URL(t, "loss"))
	if err != nil {
		t.Fatal(err)
	}
	s3Endpoint, _ := url.Parse(s3URL.Query().Get("endpoint"))
	pgProxy := newFaultProxy(t, pgURL.Host)
	s3Proxy := newFaultProxy(t, s3Endpoint.Host)
	pgURL.Host = pgProxy.Addr
	q := s3URL.Query()
	q.Set("endpoint", "http://"+s3Proxy.Addr)
	s3URL.RawQuery = q.Encode()

	srv := startServer(t, t.TempDir(), "--db", pgURL.String(), "--blobs", s3URL.String(), "--api-key", "k", "--verify-interval", "100ms")
	ctx := context.Background()
	retrying, _ := sdk(t, srv.URL, "k")
	noRetry, err := perseus.NewClient(perseus.WithHost(srv.URL), perseus.WithAPIKey("k"), perseus.WithRetry(perseus.RetryPolicy{}))
	if err != nil {
		t.Fatal(err)
	}
	path, hash := writeRandom(t, t.TempDir(), "before.bin", 256<<10)
	before, err := retrying.File.UploadFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if before, err = retrying.File.WaitForFileUpload(ctx, before.ID, perseus.WithTimeout(20*time.Second)); err != nil {
		t.Fatal(err)
	}

	// PostgreSQL gone: 503 with a message, for create, find and readiness.
	pgProxy.cut()
	_, otherHash := writeRandom(t, t.TempDir(), "x", 100)
	_, err = noRetry.File.CreateFile(ctx, "x", otherHash)
	expect503(t, "create without PostgreSQL", err)
	_, err = noRetry.File.FindFiles(ctx, perseus.FindQuery{IDs: []string{before.ID}})
	expect503(t, "find without PostgreSQL", err)
	expectReady(t, srv.URL, http.StatusServiceUnavailable)

	// Back: the same process serves again, and the earlier file is intact.
	pgProxy.restore()
	got, err := retrying.File.FindFile(ctx, before.ID)
	if err != nil || got == nil || got.Status != perseus.StatusUploaded || got.SourceHash != hash {
		t.Fatalf("after PostgreSQL came back: %+v, %v", got, err)
	}
	expectReady(t, srv.URL, http.StatusOK)

	// S3 gone: an upload cannot reach it, the file stays pending (never
	// uploaded without verified bytes), readiness says so.
	p2, _ := writeRandom(t, t.TempDir(), "during.bin", 128<<10)
	s3Proxy.cut()
	_, err = noRetry.File.UploadFile(ctx, p2)
	if err == nil {
		t.Fatal("upload succeeded while S3 was unreachable")
	}
	expectReady(t, srv.URL, http.StatusServiceUnavailable)

	// Back: the same upload goes through and is verified.
	s3Proxy.restore()
	f, err := retrying.File.UploadFile(ctx, p2)
	if err != nil {
		t.Fatal(err)
	}
	if f, err = retrying.File.WaitForFileUpload(ctx, f.ID, perseus.WithTimeout(20*time.Second)); err != nil || f.Status != perseus.StatusUploaded {
		t.Fatalf("upload after S3 came back: %+v, %v", f, err)
	}
	expectReady(t, srv.URL, http.StatusOK)
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

func expect503(t *testing.T, what string, err error) {
	t.Helper()
	var ae *perseus.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable || ae.Message == "" {
		t.Fatalf("%s: %v; want 503 with a message", what, err)
	}
}

func expectReady(t *testing.T, base string, want int) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != want || (want != 200 && !strings.Contains(body["message"], "store")) {
		t.Fatalf("/readyz = %d %v, want %d", resp.StatusCode, body, want)
	}
}
