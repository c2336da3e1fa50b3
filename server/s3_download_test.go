package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/store/blob"
	s3blob "github.com/perseus-go/perseus/store/blob/s3"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// newS3DownloadEnv returns a real server on SQLite and the S3 bucket of PERSEUS_TEST_S3_URL
// (under a prefix of its own, emptied at the end), verifying direct uploads
// in the background. Without the variable the test is skipped (failed in CI).
func newS3DownloadEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	bs, err := s3blob.Open(ctx, testenv.S3URL(t, "perseus-test/download"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.List(ctx, "", func(i blob.Info) error { return bs.Delete(ctx, i.Key) }) })
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &testEnv{t: t, meta: &faultyMeta{Store: db}, blobs: &faultyBlobs{Store: bs}}
	e.srv, err = New(Config{Meta: e.meta, Blobs: bs, SigningKey: testSigningKey,
		StaticKeys: map[string]string{keyA: tenantA, keyB: tenantB}, VerifyInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.srv.Run(runCtx); close(done) }()
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() { ts.Close(); cancel(); <-done })
	e.url = ts.URL
	return e
}

func TestDownloadFromS3RedirectsToAPresignedGet(t *testing.T) {
	e := newS3DownloadEnv(t)
	content := make([]byte, 1<<20+3)
	rand.Read(content)
	c := e.create(keyA, "s3.bin", content)
	put, _ := http.NewRequest("PUT", c.UploadURL, bytes.NewReader(content))
	if res, err := http.DefaultClient.Do(put); err != nil || res.StatusCode/100 != 2 {
		t.Fatalf("PUT to the presigned URL: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	if g := e.call("GET", "/api/v0/file/"+c.Rec.ID+"?wait=20s", keyA, nil); g.Status != "uploaded" {
		t.Fatalf("after the direct upload the file is %d %s", g.status, g.body)
	}

	chk := newSpecChecker(t, e.url)
	noFollow := chk.client()
	req, _ := http.NewRequest("GET", e.url+"/api/v0/file/"+c.Rec.ID+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+keyA)
	res, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body redirectResponse
	decodeInto(t, mustRead(t, res), &body)
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusTemporaryRedirect || loc == "" || body.URL != loc ||
		res.Header.Get("ETag") != `"`+hashOf(content)+`"` || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("download on S3: %d Location %q ETag %q body %+v", res.StatusCode, loc, res.Header.Get("ETag"), body)
	}
	if strings.HasPrefix(loc, e.url) {
		t.Fatalf("redirected to the server itself: %s", loc)
	}

	// The presigned URL alone is the credential: the bytes, and ranges of them.
	for _, tc := range []struct {
		rng    string
		status int
		want   []byte
	}{{"", http.StatusOK, content}, {"bytes=10-19", http.StatusPartialContent, content[10:20]}} {
		req, _ := http.NewRequest("GET", loc, nil)
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, res); res.StatusCode != tc.status || !bytes.Equal(got, tc.want) {
			t.Errorf("GET presigned %q: %d, %d bytes; want %d, %d bytes", tc.rng, res.StatusCode, len(got), tc.status, len(tc.want))
		}
	}

	// The SDK follows the redirect without its API key and verifies the bytes.
	client, err := perseus.NewClient(perseus.WithHost(e.url), perseus.WithAPIKey(keyA))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if n, err := client.File.DownloadFile(context.Background(), c.Rec.ID, &buf); err != nil || n != int64(len(content)) || !bytes.Equal(buf.Bytes(), content) {
		t.Errorf("SDK download through S3: %d, %v", n, err)
	}
	path := filepath.Join(t.TempDir(), "out.bin")
	if _, err := client.File.DownloadFileTo(context.Background(), c.Rec.ID, path); err != nil {
		t.Errorf("SDK download to a path through S3: %v", err)
	}

	// Tenant scope and status hold before any redirect is given.
	r := e.call("GET", "/api/v0/file/"+c.Rec.ID+"/content", keyB, nil)
	if r.status != http.StatusNotFound {
		t.Errorf("another tenant's download: %d %s", r.status, r.body)
	}
	p := e.create(keyA, "pending.bin", []byte("never sent"))
	if r := e.call("GET", "/api/v0/file/"+p.Rec.ID+"/content", keyA, nil); r.status != http.StatusConflict || r.Code != "file_not_uploaded" {
		t.Errorf("pending file's download: %d %s", r.status, r.body)
	}
}

func mustRead(t *testing.T, res *http.Response) []byte {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
