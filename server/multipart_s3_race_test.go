package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob"
)

// replica starts a second server over the env's metadata and bucket, as
// another replica behind the same load balancer would be, and returns its
// URL; tweak may set it otherwise than the first.
func (e *s3Env) replica(tweak ...func(*Config)) string {
	e.t.Helper()
	cfg := Config{Meta: e.srv.cfg.Meta, Blobs: e.store, SigningKey: testSigningKey, DirectParts: e.srv.cfg.DirectParts,
		StaticKeys: map[string]string{keyA: tenantA}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	e.t.Cleanup(ts.Close)
	return ts.URL
}

// sendAll starts a multipart upload of content for file id through m and
// PUTs every part; it returns the uploadId and the part references.
func sendAll(t *testing.T, m *mp, id string, content []byte, partSize int) (string, []partRef) {
	t.Helper()
	parts, refs := split(content, partSize)
	up, _ := m.start(id, int64(len(content)), int64(partSize))
	for i, u := range m.urls(id, up.UploadID, refs...) {
		if status, body := m.put(u, parts[i]); status != http.StatusOK {
			t.Fatalf("PUT part %d: %d %s", i+1, status, body)
		}
	}
	return up.UploadID, refs
}

// wantOnlyContent checks that the bucket holds content under id's content
// key and nothing else: no staged copy, no marker, no unfinished upload.
func (e *s3Env) wantOnlyContent(id string, content []byte) {
	e.t.Helper()
	key := contentKey(tenantA, hashOf(content), id)
	if keys, ups := e.objects(), e.uploads(); len(keys) != 1 || keys[0] != key || len(ups) != 0 {
		e.t.Fatalf("bucket holds objects %v and uploads %+v; want only %s", keys, ups, key)
	}
	r, err := e.store.Open(context.Background(), key, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	if got, _ := io.ReadAll(r); !bytes.Equal(got, content) {
		e.t.Fatalf("the content key holds %d bytes other than the file's %d", len(got), len(content))
	}
}

func TestMultipartOnS3SettlesAnUploadCompletedWhoseVerifierDied(t *testing.T) {
	inBothModes(t, testMultipartOnS3SettlesAnUploadCompletedWhoseVerifierDied)
}

func testMultipartOnS3SettlesAnUploadCompletedWhoseVerifierDied(t *testing.T, direct bool) {
	e := newS3Env(t, directParts(direct))
	m := newMP(t, e.url)
	content := randomBytes(5<<20 + 9)
	c := e.pendingFile(content)
	upload, refs := sendAll(t, m, c.Rec.ID, content, 5<<20)
	// Complete it in the store, as a server that died right after would have.
	rec, err := e.srv.cfg.Meta.Get(context.Background(), tenantA, c.Rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	key := contentKey(tenantA, rec.SourceHash, rec.ID)
	var ups []blob.Upload
	e.store.ListMultipart(context.Background(), key, func(u blob.Upload) error { ups = append(ups, u); return nil })
	if len(ups) != 1 {
		t.Fatalf("uploads at %s: %+v, want the one of %s", key, ups, upload)
	}
	parts, _ := e.store.ListParts(context.Background(), key, ups[0].ID)
	if _, err := e.store.CompleteMultipart(context.Background(), key, ups[0].ID, parts); err != nil {
		t.Fatal(err)
	}
	if r := e.call("GET", "/api/v0/file/"+c.Rec.ID+"/content", keyA, nil); r.status != http.StatusConflict {
		t.Fatalf("download while its content is unverified: %d %s, want 409", r.status, r.body)
	}
	f, status, body := m.complete(c.Rec.ID, upload, refs)
	if status != http.StatusOK || f.Status != "uploaded" {
		t.Fatalf("complete again: %d %s, want the content verified and the file uploaded", status, body)
	}
	e.wantOnlyContent(c.Rec.ID, content)
}

func TestMultipartOnS3ReplacesWrongBytesLeftAtTheContentKey(t *testing.T) {
	inBothModes(t, testMultipartOnS3ReplacesWrongBytesLeftAtTheContentKey)
}

func testMultipartOnS3ReplacesWrongBytesLeftAtTheContentKey(t *testing.T, direct bool) {
	e := newS3Env(t, directParts(direct))
	m := newMP(t, e.url)
	content := randomBytes(5<<20 + 9)
	c := e.pendingFile(content)
	upload, refs := sendAll(t, m, c.Rec.ID, content, 5<<20)
	// Another upload's object whose verifier died: the wrong bytes.
	w, _ := e.store.Create(context.Background(), contentKey(tenantA, hashOf(content), c.Rec.ID))
	w.Write(randomBytes(100))
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	f, status, body := m.complete(c.Rec.ID, upload, refs)
	if status != http.StatusOK || f.Status != "uploaded" {
		t.Fatalf("complete: %d %s, want the wrong object removed and this upload completed", status, body)
	}
	e.wantOnlyContent(c.Rec.ID, content)
}

// Two replicas complete two uploads of one file at once, one with the right
// bytes and one with others: whatever the order, the file ends uploaded
// with the right bytes, and nothing else is left.
func TestMultipartOnS3ConcurrentCompletesOnTwoReplicas(t *testing.T) {
	inBothModes(t, testMultipartOnS3ConcurrentCompletesOnTwoReplicas)
}

func testMultipartOnS3ConcurrentCompletesOnTwoReplicas(t *testing.T, direct bool) {
	e := newS3Env(t, directParts(direct))
	m1, m2 := newMP(t, e.url), newMP(t, e.replica())
	for round := range 3 {
		content := randomBytes(5<<20 + 100)
		c := e.pendingFile(content)
		good, goodRefs := sendAll(t, m1, c.Rec.ID, content, 5<<20)
		bad, badRefs := sendAll(t, m2, c.Rec.ID, randomBytes(5<<20+200), 5<<20)
		var wg sync.WaitGroup
		var goodStatus, badStatus int
		var goodBody, badBody string
		wg.Go(func() { _, goodStatus, goodBody = m1.complete(c.Rec.ID, good, goodRefs) })
		wg.Go(func() {
			time.Sleep(time.Duration(round) * 30 * time.Millisecond)
			_, badStatus, badBody = m2.complete(c.Rec.ID, bad, badRefs)
		})
		wg.Wait()
		if goodStatus != http.StatusOK || (badStatus != http.StatusOK && badStatus != http.StatusUnprocessableEntity) {
			t.Fatalf("round %d: complete of the right bytes %d %s; of the wrong ones %d %s", round, goodStatus, goodBody, badStatus, badBody)
		}
		if f := e.status(c.Rec.ID); f.Status != "uploaded" {
			t.Fatalf("round %d: file = %+v, want uploaded", round, f)
		}
		e.wantOnlyContent(c.Rec.ID, content)
		if r := e.call("DELETE", "/api/v0/file/"+c.Rec.ID, keyA, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
	}
}

// A delete while the upload is being completed leaves neither a record
// without content nor content without a record.
func TestMultipartOnS3DeleteDuringCompleteLeavesNothing(t *testing.T) {
	inBothModes(t, testMultipartOnS3DeleteDuringCompleteLeavesNothing)
}

func testMultipartOnS3DeleteDuringCompleteLeavesNothing(t *testing.T, direct bool) {
	e := newS3Env(t, directParts(direct))
	m := newMP(t, e.url)
	for round := range 4 {
		content := randomBytes(5<<20 + 100)
		c := e.pendingFile(content)
		upload, refs := sendAll(t, m, c.Rec.ID, content, 5<<20)
		var wg sync.WaitGroup
		var status int
		var body string
		wg.Go(func() { _, status, body = m.complete(c.Rec.ID, upload, refs) })
		time.Sleep(time.Duration(rand.IntN(40*(round+1))) * time.Millisecond)
		if r := e.call("DELETE", "/api/v0/file/"+c.Rec.ID, keyA, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		wg.Wait()
		switch status {
		case http.StatusOK, http.StatusGone, http.StatusNotFound:
		default:
			t.Fatalf("round %d: complete during a delete: %d %s", round, status, body)
		}
		if keys, ups := e.objects(), e.uploads(); len(keys) != 0 || len(ups) != 0 {
			t.Fatalf("round %d (complete answered %d): left behind objects %v, uploads %+v", round, status, keys, ups)
		}
	}
}

func TestSweepRemovesMarkersOfDeletedRecords(t *testing.T) {
	e := newS3Env(t, func(c *Config) { c.OrphanGrace = time.Nanosecond })
	m := newMP(t, e.url)
	content := randomBytes(6 << 20)
	id := e.pendingFile(content).Rec.ID
	up, _ := m.start(id, int64(len(content)), 5<<20)
	// The record goes without its uploads (as if its removal failed midway).
	if _, err := e.srv.cfg.Meta.Delete(context.Background(), tenantA, id); err != nil {
		t.Fatal(err)
	}
	rep, err := e.srv.core.Sweep(context.Background())
	if err != nil || rep.OrphanedObjects != 1 {
		t.Fatalf("Sweep = %+v, %v; want the marker of %s as an orphan", rep, err, up.UploadID)
	}
	if _, err := e.srv.core.SweepMultipart(context.Background(), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if keys, ups := e.objects(), e.uploads(); len(keys) != 0 || len(ups) != 0 {
		t.Fatalf("left behind objects %v, uploads %+v", keys, ups)
	}
}
