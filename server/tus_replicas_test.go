package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus/internal/testenv"
	s3blob "github.com/perseus-go/perseus/store/blob/s3"
	"github.com/perseus-go/perseus/store/meta/postgres"
)

// TestTusLockHoldsAcrossReplicas: two replicas share PostgreSQL and S3. A
// PATCH on one stalls mid-body (its client went quiet) holding the
// upload's lock; a HEAD on the other asks for the lock, which makes the
// first let go, keeping what arrived; the HEAD answers that offset, and
// the upload is resumed and finished on the second replica.
func TestTusLockHoldsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	s3url := testenv.S3URL(t, "tus-replicas")
	pgURL := testenv.PostgresSchemaURL(t)
	replica := func() (*testEnv, *Server) {
		db, err := postgres.Open(ctx, pgURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		bs, err := s3blob.Open(ctx, s3url)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := New(Config{Meta: db, Blobs: bs, SigningKey: testSigningKey,
			StaticKeys: map[string]string{keyA: tenantA}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)
		return &testEnv{t: t, srv: srv, url: ts.URL}, srv
	}
	a, _ := replica()
	b, _ := replica()

	content := randomContent(t, 9<<20+17)
	loc, _ := a.tusCreate(keyA, len(content), tusMeta("filename", "replicas.bin"))
	path := loc[strings.Index(loc, tusBase):]

	// A PATCH to replica a that sends 6 MiB and then nothing.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", a.url+path, pr)
	req.ContentLength = int64(len(content))
	for k, v := range map[string]string{"Tus-Resumable": "1.0.0", "Authorization": "Bearer " + keyA,
		"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"} {
		req.Header.Set(k, v)
	}
	stalled := make(chan tusResp, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			stalled <- tusResp{status: -1, body: []byte(err.Error())}
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		stalled <- tusResp{res.StatusCode, res.Header, body}
	}()
	go func() { pw.Write(content[:6<<20]) }()
	defer pw.Close()
	time.Sleep(500 * time.Millisecond) // the bytes reach replica a, which holds the lock

	start := time.Now()
	head := b.tusDo("HEAD", path, keyA, nil, nil)
	if head.status != http.StatusOK {
		t.Fatalf("HEAD on replica b while a holds the upload: %d %s", head.status, head.body)
	}
	off := head.offset()
	t.Logf("HEAD on b answered after %v: offset %d", time.Since(start), off)
	if off <= 0 || off > 6<<20 {
		t.Fatalf("HEAD on replica b: offset %d, want what reached replica a (0 < offset ≤ %d)", off, 6<<20)
	}
	if got := <-stalled; got.status == http.StatusNoContent && got.offset() != off {
		t.Errorf("the stalled PATCH answered offset %d, HEAD %d", got.offset(), off)
	}
	r := b.tusPatch(keyA, path, off, content[off:])
	if r.status != http.StatusNoContent || r.h.Get("Perseus-File-Status") != "uploaded" || r.offset() != int64(len(content)) {
		t.Fatalf("resumed on replica b: %d %s", r.status, r.body)
	}
	f := a.call("GET", "/api/v0/file/"+r.h.Get("Perseus-File-Id"), keyA, nil)
	if f.Status != "uploaded" || f.SourceHash != hashOf(content) || f.Size != int64(len(content)) {
		t.Fatalf("the file, seen from replica a: %+v (want size %s)", f.File, strconv.Itoa(len(content)))
	}
}
