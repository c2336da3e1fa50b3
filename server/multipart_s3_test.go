package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/store/blob"
	s3blob "github.com/perseus-go/perseus/store/blob/s3"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// s3Env is a real server over SQLite and the S3 bucket of
// PERSEUS_TEST_S3_URL, under a prefix of its own, verifying in the background.
type s3Env struct {
	*testEnv
	store *s3blob.Store
	s3url string // the store's, with its prefix
}

func newS3Env(t *testing.T, tweak ...func(*Config)) *s3Env {
	t.Helper()
	s3url := testenv.S3URL(t, "server-test")
	ctx := context.Background()
	store, err := s3blob.Open(ctx, s3url)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := Config{Meta: db, Blobs: store, SigningKey: testSigningKey,
		StaticKeys: map[string]string{keyA: tenantA}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.Run(runCtx); close(done) }()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		stop()
		<-done
		store.ListMultipart(ctx, "", func(u blob.Upload) error { return store.AbortMultipart(ctx, u.Key, u.ID) })
		store.List(ctx, "", func(i blob.Info) error { return store.Delete(ctx, i.Key) })
	})
	return &s3Env{&testEnv{t: t, srv: srv, url: ts.URL}, store, s3url}
}

// objects lists every key in the env's prefix.
func (e *s3Env) objects() []string {
	var keys []string
	if err := e.store.List(context.Background(), "", func(i blob.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		e.t.Fatal(err)
	}
	return keys
}

func (e *s3Env) uploads() []blob.Upload {
	var ups []blob.Upload
	if err := e.store.ListMultipart(context.Background(), "", func(u blob.Upload) error { ups = append(ups, u); return nil }); err != nil {
		e.t.Fatal(err)
	}
	return ups
}

// TestMultipartOnS3ResumesAndCompletesVerified: parts sent straight to S3
// (--s3-parts direct) at presigned URLs S3 checks them against.
func TestMultipartOnS3ResumesAndCompletesVerified(t *testing.T) {
	e := newS3Env(t, func(c *Config) { c.DirectParts = true })
	m := newMP(t, e.url)
	const partSize = 5 << 20
	content := randomBytes(2*partSize + 7)
	parts, refs := split(content, partSize)
	c := e.pendingFile(content)
	up, status := m.start(c.Rec.ID, int64(len(content)), partSize)
	if status != http.StatusCreated || up.PartCount != 3 {
		t.Fatalf("start = %d %+v", status, up)
	}
	urls := m.urls(c.Rec.ID, up.UploadID, refs...)
	for _, u := range urls {
		if strings.HasPrefix(u.URL, e.url) || u.Headers["x-amz-checksum-sha256"] == "" {
			t.Fatalf("part URL %+v: want a presigned S3 URL demanding x-amz-checksum-sha256", u)
		}
	}
	// S3 itself refuses bytes that do not match the checksum signed into the URL.
	if status, body := m.put(urls[2], []byte("0123456")); status/100 == 2 {
		t.Fatalf("PUT of wrong bytes to S3: %d %s, want a refusal", status, body)
	}
	for _, i := range []int{0, 2} {
		if status, body := m.put(urls[i], parts[i]); status != http.StatusOK {
			t.Fatalf("PUT part %d: %d %s", i+1, status, body)
		}
	}
	// The store's upload is at the content key itself, where nothing is
	// visible until the server completes it, and the record is not served.
	key := contentKey(tenantA, hashOf(content), c.Rec.ID)
	if ups := e.uploads(); len(ups) != 1 || ups[0].Key != key {
		t.Fatalf("multipart uploads = %+v, want one at the content key %s", ups, key)
	}
	if keys := e.objects(); len(keys) != 1 || keys[0] != multipartKey(tenantA, c.Rec.ID, up.UploadID) {
		t.Fatalf("objects before complete = %v, want only the upload's marker", keys)
	}
	if r := e.call("GET", "/api/v0/file/"+c.Rec.ID+"/content", keyA, nil); r.status != http.StatusConflict {
		t.Fatalf("download of a pending file: %d %s, want 409", r.status, r.body)
	}
	again, status := m.start(c.Rec.ID, int64(len(content)), partSize)
	if status != http.StatusOK || again.UploadID != up.UploadID || len(again.Parts) != 2 ||
		again.Parts[0].SHA256 != refs[0].SHA256 || again.Parts[1].PartNumber != 3 || again.Parts[1].SHA256 != refs[2].SHA256 {
		t.Fatalf("start again = %d %+v, want 200 listing parts 1 and 3 with their SHA-256", status, again)
	}
	if status, body := m.put(urls[1], parts[1]); status != http.StatusOK {
		t.Fatalf("PUT part 2: %d %s", status, body)
	}
	f, status, body := m.complete(c.Rec.ID, up.UploadID, refs)
	if status != http.StatusOK || f.Status != "uploaded" || f.Size != int64(len(content)) {
		t.Fatalf("complete: %d %s", status, body)
	}
	if keys := e.objects(); len(keys) != 1 || keys[0] != key {
		t.Errorf("objects after complete = %v, want only %s: no staging copy, no marker", keys, key)
	}
	if ups := e.uploads(); len(ups) != 0 {
		t.Errorf("multipart uploads left: %+v", ups)
	}
	r, err := e.store.Open(context.Background(), key, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, content) {
		t.Errorf("stored content differs from what was sent (%d bytes)", len(got))
	}
}

func TestMultipartOnS3MismatchFailsAndKeepsNothing(t *testing.T) {
	inBothModes(t, testMultipartOnS3MismatchFailsAndKeepsNothing)
}

func testMultipartOnS3MismatchFailsAndKeepsNothing(t *testing.T, direct bool) {
	e := newS3Env(t, directParts(direct))
	m := newMP(t, e.url)
	sent := randomBytes(5<<20 + 1)
	parts, refs := split(sent, 5<<20)
	c := e.pendingFile(randomBytes(5<<20 + 1))
	up, _ := m.start(c.Rec.ID, int64(len(sent)), 5<<20)
	for i, u := range m.urls(c.Rec.ID, up.UploadID, refs...) {
		if status, body := m.put(u, parts[i]); status != http.StatusOK {
			t.Fatalf("PUT part %d: %d %s", i+1, status, body)
		}
	}
	if _, status, body := m.complete(c.Rec.ID, up.UploadID, refs); status != http.StatusUnprocessableEntity {
		t.Fatalf("complete of the wrong content: %d %s, want 422", status, body)
	}
	if f := e.status(c.Rec.ID); f.Status != "failed" {
		t.Errorf("file = %+v, want failed", f)
	}
	if keys, ups := e.objects(), e.uploads(); len(keys) != 0 || len(ups) != 0 {
		t.Errorf("left behind: objects %v, uploads %+v", keys, ups)
	}
}

func TestSweepAndDeleteAbortS3MultipartUploads(t *testing.T) {
	e := newS3Env(t)
	m := newMP(t, e.url)
	content := randomBytes(6 << 20)
	parts, refs := split(content, 5<<20)
	deleted := e.pendingFile(content).Rec.ID
	up, _ := m.start(deleted, int64(len(content)), 5<<20)
	m.put(m.urls(deleted, up.UploadID, refs[0])[0], parts[0])
	if status, body := m.do("DELETE", "/api/v0/file/"+deleted, nil, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, body)
	}
	if ups := e.uploads(); len(ups) != 0 {
		t.Fatalf("uploads of a deleted file: %+v", ups)
	}
	other := randomBytes(6 << 20)
	id := e.pendingFile(other).Rec.ID
	m.start(id, int64(len(other)), 5<<20)
	if n, err := e.srv.core.SweepMultipart(context.Background(), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("SweepMultipart of nothing stale = %d, %v", n, err)
	}
	if ups := e.uploads(); len(ups) != 1 || ups[0].Key != contentKey(tenantA, hashOf(other), id) {
		t.Fatalf("uploads = %+v, want one at the content key", ups)
	}
	if n, err := e.srv.core.SweepMultipart(context.Background(), time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("SweepMultipart = %d, %v; want the 1 upload", n, err)
	}
	if ups, keys := e.uploads(), e.objects(); len(ups) != 0 || len(keys) != 0 {
		t.Errorf("after the sweep: uploads %+v, objects %v; want none", ups, keys)
	}
}
