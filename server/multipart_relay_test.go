package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/internal/sha256chain"
	"github.com/perseus-go/perseus/store/blob"
	s3blob "github.com/perseus-go/perseus/store/blob/s3"
)

// readCounting is the S3 store, counting the objects read through it
// (fault injection aside, the real store: every other call goes to it).
type readCounting struct {
	*s3blob.Store
	reads     atomic.Int64
	notIntact bool // CompleteStreamed says the store could not confirm the parts
}

func (s *readCounting) Open(ctx context.Context, key string, off int64) (io.ReadCloser, error) {
	s.reads.Add(1)
	return s.Store.Open(ctx, key, off)
}

func (s *readCounting) CompleteStreamed(ctx context.Context, key, upload string, parts []blob.Part) (string, bool, error) {
	etag, intact, err := s.Store.CompleteStreamed(ctx, key, upload, parts)
	return etag, intact && !s.notIntact, err
}

// newRelayEnv is newS3Env with parts relayed (the default), over a store
// that counts reads.
func newRelayEnv(t *testing.T) (*s3Env, *readCounting) {
	var rc *readCounting
	e := newS3Env(t, func(c *Config) {
		rc = &readCounting{Store: c.Blobs.(*s3blob.Store)}
		c.Blobs = rc
	})
	return e, rc
}

// TestMultipartOnS3RelayedIsVerifiedOnItsWay: by default an S3 store's
// parts come through the server, chained, each checked as it passes; the
// file is uploaded at complete without its object being read back, and
// nothing but the content is left.
func TestMultipartOnS3RelayedIsVerifiedOnItsWay(t *testing.T) {
	e, rc := newRelayEnv(t)
	m := newMP(t, e.url)
	var l Limits
	m.do("GET", "/api/v0/limits", nil, &l)
	if !l.ChainedParts {
		t.Fatal("limits do not offer chained parts on S3 with parts relayed")
	}
	const partSize = 5 << 20
	content := randomBytes(2*partSize + 7)
	c := e.pendingFile(content)
	up, status := m.start(c.Rec.ID, int64(len(content)), partSize)
	if status != http.StatusCreated || up.PartCount != 3 {
		t.Fatalf("start = %d %+v", status, up)
	}
	parts, refs := chain(t, content, partSize)
	urls := m.urls(c.Rec.ID, up.UploadID, refs...)
	for _, u := range urls {
		if !strings.HasPrefix(u.URL, e.url+"/upload/") {
			t.Fatalf("part URL %s: want one of this server", u.URL)
		}
	}
	// Bytes that are not the part are refused, and the store keeps none of them.
	if status, body := m.put(urls[1], parts[0]); status != http.StatusUnprocessableEntity {
		t.Fatalf("part 2 with part 1's bytes: %d %s, want 422", status, body)
	}
	for _, i := range []int{0, 2} {
		if status, body := m.put(urls[i], parts[i]); status != http.StatusOK {
			t.Fatalf("PUT part %d: %d %s", i+1, status, body)
		}
	}
	stored, err := e.store.ListParts(t.Context(), contentKey(tenantA, hashOf(content), c.Rec.ID), e.uploads()[0].ID)
	if err != nil || len(stored) != 2 || stored[0].Number != 1 || stored[1].Number != 3 {
		t.Fatalf("parts in S3 = %+v, %v; want 1 and 3 only", stored, err)
	}
	again, status := m.start(c.Rec.ID, int64(len(content)), partSize)
	if status != http.StatusOK || len(again.Parts) != 2 || again.Parts[0].From != sha256chain.IV || again.Parts[1].SHA256 != c.Rec.SourceHash {
		t.Fatalf("resume = %d %+v, want parts 1 and 3, chained", status, again.Parts)
	}
	if status, body := m.put(urls[1], parts[1]); status != http.StatusOK {
		t.Fatalf("PUT part 2: %d %s", status, body)
	}
	before := rc.reads.Load()
	f, status, body := m.complete(c.Rec.ID, up.UploadID, refs)
	if status != http.StatusOK || f.Status != "uploaded" || f.Size != int64(len(content)) {
		t.Fatalf("complete: %d %s", status, body)
	}
	if n := rc.reads.Load() - before; n != 0 {
		t.Errorf("complete read %d objects; a relayed, chained upload needs no read-back", n)
	}
	e.wantOnlyContent(c.Rec.ID, content) // no part record left either
}

// TestMultipartOnS3RelayedReadsBackWhatTheStoreCannotConfirm: when the
// store cannot confirm that it assembled the bytes sent, the object is read
// back and hashed; a file whose parts chain to another hash fails.
func TestMultipartOnS3RelayedReadsBackWhatTheStoreCannotConfirm(t *testing.T) {
	e, rc := newRelayEnv(t)
	rc.notIntact = true
	m := newMP(t, e.url)
	const partSize = 5 << 20
	for _, wrong := range []bool{false, true} {
		content := randomBytes(partSize + 100)
		sent := content
		if wrong {
			sent = randomBytes(len(content))
		}
		c := e.pendingFile(content)
		up, _ := m.start(c.Rec.ID, int64(len(content)), partSize)
		parts, refs := chain(t, sent, partSize)
		for i, u := range m.urls(c.Rec.ID, up.UploadID, refs...) {
			if status, body := m.put(u, parts[i]); status != http.StatusOK {
				t.Fatalf("PUT part %d: %d %s", i+1, status, body)
			}
		}
		before := rc.reads.Load()
		f, status, body := m.complete(c.Rec.ID, up.UploadID, refs)
		if rc.reads.Load() == before {
			t.Errorf("wrong=%v: complete read nothing back, though the store could not confirm the parts", wrong)
		}
		switch {
		case !wrong && (status != http.StatusOK || f.Status != "uploaded"):
			t.Fatalf("complete: %d %s, want uploaded", status, body)
		case wrong && status != http.StatusUnprocessableEntity:
			t.Fatalf("complete of other bytes: %d %s, want 422", status, body)
		}
	}
}

// TestMultipartOnS3RelayedPartNeedsOneRecord: a part the store holds
// stands for what the server checked of it only while no other record of
// its number and ETag says otherwise (as two writes at once, on two
// replicas, of bytes made to share an MD5 would leave): complete then asks
// for it again, and sending it again settles it.
func TestMultipartOnS3RelayedPartNeedsOneRecord(t *testing.T) {
	e, _ := newRelayEnv(t)
	m := newMP(t, e.url)
	const partSize = 5 << 20
	content := randomBytes(partSize + 64)
	c := e.pendingFile(content)
	up, _ := m.start(c.Rec.ID, int64(len(content)), partSize)
	parts, refs := chain(t, content, partSize)
	urls := m.urls(c.Rec.ID, up.UploadID, refs...)
	for i, u := range urls {
		if status, body := m.put(u, parts[i]); status != http.StatusOK {
			t.Fatalf("PUT part %d: %d %s", i+1, status, body)
		}
	}
	stored, err := e.store.ListParts(t.Context(), contentKey(tenantA, hashOf(content), c.Rec.ID), e.uploads()[0].ID)
	if err != nil || len(stored) != 2 {
		t.Fatalf("parts in S3 = %+v, %v", stored, err)
	}
	forged := partRecord{number: 1, etag: stored[0].ETag, from: sha256chain.IV, to: strings.Repeat("0", 64), check: "AAAAAAAAAAA="}
	if err := putObjectTest(e.store, keys.PartRecords(tenantA, c.Rec.ID, up.UploadID)+forged.name()); err != nil {
		t.Fatal(err)
	}
	if _, status, body := m.complete(c.Rec.ID, up.UploadID, refs); status != http.StatusBadRequest || !strings.Contains(body, "parts 1") {
		t.Fatalf("complete with two records of part 1 that disagree: %d %s, want 400 parts_missing naming part 1", status, body)
	}
	if status, body := m.put(urls[0], parts[0]); status != http.StatusOK {
		t.Fatalf("PUT part 1 again: %d %s", status, body)
	}
	if f, status, body := m.complete(c.Rec.ID, up.UploadID, refs); status != http.StatusOK || f.Status != "uploaded" {
		t.Fatalf("complete after part 1 was sent again: %d %s", status, body)
	}
}

// partRecord mirrors the core's record names (internal/ingest), so that a
// test can leave one as a lost lock would.
type partRecord struct {
	number          int
	etag            string
	from, to, check string
}

func (pr partRecord) name() string {
	hexOf := func(s string) string { return hex.EncodeToString([]byte(s)) }
	return strings.Join([]string{strconv.Itoa(pr.number), hexOf(strings.Trim(pr.etag, `"`)), pr.from, pr.to, hexOf(pr.check)}, ".")
}

// putObjectTest stores an empty object under key.
func putObjectTest(s blob.Store, key string) error {
	w, err := s.Create(context.Background(), key)
	if err != nil {
		return err
	}
	return w.Commit(context.Background())
}

// TestMultipartOnS3DirectPartsStillGoStraightToTheStore: --s3-parts=direct
// keeps parts at presigned S3 URLs.
func TestMultipartOnS3DirectPartsStillGoStraightToTheStore(t *testing.T) {
	e := newS3Env(t, func(c *Config) { c.DirectParts = true })
	m := newMP(t, e.url)
	var l Limits
	m.do("GET", "/api/v0/limits", nil, &l)
	if l.ChainedParts {
		t.Fatal("limits offer chained parts with parts direct to S3")
	}
	content := randomBytes(5<<20 + 1)
	parts, refs := split(content, 5<<20)
	c := e.pendingFile(content)
	up, _ := m.start(c.Rec.ID, int64(len(content)), 5<<20)
	for i, u := range m.urls(c.Rec.ID, up.UploadID, refs...) {
		if strings.HasPrefix(u.URL, e.url) || u.Headers["x-amz-checksum-sha256"] == "" {
			t.Fatalf("part URL %+v: want a presigned S3 URL", u)
		}
		if status, body := m.put(u, parts[i]); status != http.StatusOK {
			t.Fatalf("PUT part %d: %d %s", i+1, status, body)
		}
	}
	if f, status, body := m.complete(c.Rec.ID, up.UploadID, refs); status != http.StatusOK || f.Status != "uploaded" {
		t.Fatalf("complete: %d %s", status, body)
	}
}

// TestMultipartOnS3RelayedPartOfAGoneUpload: a part relayed to an upload
// S3 no longer has (aborted behind the server's back once the server had
// found it, as its body begins to arrive) is answered 404
// upload_not_found, which says to start again, not 503, which says retry.
func TestMultipartOnS3RelayedPartOfAGoneUpload(t *testing.T) {
	e := newS3Env(t)
	m := newMP(t, e.url)
	const partSize = 5 << 20
	content := randomBytes(partSize + 9)
	c := e.pendingFile(content)
	up, _ := m.start(c.Rec.ID, int64(len(content)), partSize)
	parts, refs := chain(t, content, partSize)
	u := m.urls(c.Rec.ID, up.UploadID, refs...)[1] // the last part: 9 bytes, sent whole before any answer
	body := &onFirstRead{r: bytes.NewReader(parts[1]), fn: func() {
		for _, x := range e.uploads() {
			if err := e.store.AbortMultipart(t.Context(), x.Key, x.ID); err != nil {
				t.Error(err)
			}
		}
	}}
	req, _ := http.NewRequest("PUT", u.URL, body)
	req.ContentLength = int64(len(parts[1]))
	// The body leaves only once the handler reads it, after it has found
	// the upload (Expect: 100-continue; the test's transport waits 1 s).
	req.Header.Set("Expect", "100-continue")
	if status, body := m.send(req, nil); status != http.StatusNotFound || !strings.Contains(body, "upload_not_found") {
		t.Fatalf("PUT part 2 of an upload S3 no longer has: %d %s, want 404 upload_not_found", status, body)
	}
}

// onFirstRead calls fn before the first Read of r.
type onFirstRead struct {
	r    io.Reader
	once sync.Once
	fn   func()
}

func (o *onFirstRead) Read(p []byte) (int, error) {
	o.once.Do(o.fn)
	return o.r.Read(p)
}
