package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/perseus-go/perseus/store/blob"
)

var _ blob.BatchCommitter = (*faultyBlobs)(nil)

// CommitAll has the real store commit the writers together; a writer made
// to fail its commit (commitFail) fails alone, as its Commit would.
func (f *faultyBlobs) CommitAll(ctx context.Context, ws []blob.Writer) []error {
	errs := make([]error, len(ws))
	var inner []blob.Writer
	var at []int
	for i, w := range ws {
		switch x := w.(type) {
		case failingCommit:
			errs[i] = x.Commit(ctx)
			continue
		case *failingBlobWriter:
			w = x.Writer
		}
		inner, at = append(inner, w), append(at, i)
	}
	bc, ok := f.Store.(blob.BatchCommitter)
	for k, w := range inner {
		if !ok {
			errs[at[k]] = w.Commit(ctx)
		}
	}
	if ok {
		for k, err := range bc.CommitAll(ctx, inner) {
			errs[at[k]] = err
		}
	}
	return errs
}

// noBatch hides the local store's BatchCommitter, as S3 has none.
type noBatch struct{ assemblingStore }

// batchBody frames files (id → bytes, in the order of ids) as a batch
// upload's body.
func batchBody(ids []string, content map[string][]byte) []byte {
	type piece struct {
		ID   string `json:"id"`
		Size int    `json:"size"`
	}
	var m struct {
		Files []piece `json:"files"`
	}
	for _, id := range ids {
		m.Files = append(m.Files, piece{id, len(content[id])})
	}
	b, _ := json.Marshal(m)
	b = append(b, '\n')
	for _, id := range ids {
		b = append(b, content[id]...)
	}
	return b
}

type batchContentAnswer struct {
	Results []batchContentResult `json:"results"`
}

func (e *testEnv) sendBatch(key string, body []byte) (int, batchContentAnswer) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/api/v0/file/batch/content", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/octet-stream")
	r := e.send(req)
	var a batchContentAnswer
	if r.status == http.StatusOK {
		if err := json.Unmarshal(r.body, &a); err != nil {
			e.t.Fatal(err)
		}
	}
	return r.status, a
}

func TestBatchContentFailsOnlyTheFileWhoseBytesAreWrong(t *testing.T) {
	e := newEnv(t)
	good1, good2 := []byte("the first file"), bytes.Repeat([]byte("second "), 50000)
	a := e.create(keyA, "a.txt", good1).Rec
	b := e.create(keyA, "b.txt", []byte("what b should be")).Rec
	c := e.create(keyA, "c.txt", good2).Rec
	status, ans := e.sendBatch(keyA, batchBody([]string{a.ID, b.ID, c.ID},
		map[string][]byte{a.ID: good1, b.ID: []byte("what b is not"), c.ID: good2}))
	if status != http.StatusOK || len(ans.Results) != 3 {
		t.Fatalf("batch: %d %+v", status, ans)
	}
	for i, want := range []int{200, 422, 200} {
		if r := ans.Results[i]; r.Status != want || r.ID != []string{a.ID, b.ID, c.ID}[i] {
			t.Errorf("result %d: %+v, want status %d", i, r, want)
		}
	}
	if f := ans.Results[0].File; f == nil || f.Status != "uploaded" || f.Size != int64(len(good1)) {
		t.Errorf("first file answered %+v", f)
	}
	if r := ans.Results[1]; r.Code != "hash_mismatch" || r.Message == "" {
		t.Errorf("wrong bytes answered %+v", r)
	}
	got := map[string]string{}
	for _, f := range e.find(keyA, []string{a.ID, b.ID, c.ID}, nil) {
		got[f.ID] = string(f.Status)
	}
	if got[a.ID] != "uploaded" || got[b.ID] != "failed" || got[c.ID] != "uploaded" {
		t.Errorf("statuses after the batch: %v", got)
	}
	for id, want := range map[string][]byte{a.ID: good1, c.ID: good2} {
		if _, body := e.download("GET", keyA, id, nil); !bytes.Equal(body, want) {
			t.Errorf("content of %s: %d bytes, want the %d sent", id, len(body), len(want))
		}
	}
	if n := len(e.storedFiles()); n != 2 {
		t.Errorf("%d objects stored, want the 2 that verified", n)
	}
}

func TestBatchContentAnswersEachFileAsItsPutWould(t *testing.T) {
	e := newEnv(t)
	done := e.upload(keyA, "done.txt", []byte("done"))
	p := e.create(keyA, "p.txt", []byte("pending")).Rec
	other := e.create(keyB, "o.txt", []byte("another tenant's")).Rec
	status, ans := e.sendBatch(keyA, batchBody([]string{done.ID, other.ID, p.ID},
		map[string][]byte{done.ID: []byte("done"), other.ID: []byte("another tenant's"), p.ID: []byte("pending")}))
	if status != http.StatusOK {
		t.Fatalf("batch: %d", status)
	}
	for i, want := range []struct {
		status int
		code   string
	}{{409, "already_uploaded"}, {410, "file_deleted"}, {200, ""}} {
		if r := ans.Results[i]; r.Status != want.status || r.Code != want.code {
			t.Errorf("result %d: %+v, want %d %s", i, r, want.status, want.code)
		}
	}
	// The other tenant's file is untouched.
	if f := e.find(keyB, []string{other.ID}, nil); len(f) != 1 || f[0].Status != "pending" {
		t.Errorf("another tenant's file after the batch: %+v", f)
	}
}

func TestBatchContentCutShortFailsTheRestOnly(t *testing.T) {
	e := newEnv(t)
	a := e.create(keyA, "a.txt", []byte("first")).Rec
	b := e.create(keyA, "b.txt", []byte("second, cut")).Rec
	body := batchBody([]string{a.ID, b.ID}, map[string][]byte{a.ID: []byte("first"), b.ID: []byte("second, cut")})
	// No Content-Length, and the body ends 3 bytes early.
	req, _ := http.NewRequest("POST", e.url+"/api/v0/file/batch/content", struct{ *bytes.Reader }{bytes.NewReader(body[:len(body)-3])})
	req.Header.Set("Authorization", "Bearer "+keyA)
	r := e.send(req)
	var ans batchContentAnswer
	json.Unmarshal(r.body, &ans)
	if r.status != http.StatusOK || len(ans.Results) != 2 || ans.Results[0].Status != 200 || ans.Results[1].Code != "upload_incomplete" {
		t.Fatalf("cut batch: %d %s", r.status, r.body)
	}
	if f := e.find(keyA, []string{b.ID}, nil); len(f) != 1 || f[0].Status != "pending" {
		t.Errorf("the cut file: %+v, want pending, to be sent again", f)
	}
}

func TestBatchContentStoreFailureUploadsNothing(t *testing.T) {
	e := newEnv(t)
	a := e.create(keyA, "a.txt", []byte("first")).Rec
	e.blobs.commitFail.Store(true)
	status, ans := e.sendBatch(keyA, batchBody([]string{a.ID}, map[string][]byte{a.ID: []byte("first")}))
	e.blobs.commitFail.Store(false)
	if status != http.StatusOK || ans.Results[0].Status != http.StatusServiceUnavailable {
		t.Fatalf("batch whose commit failed: %d %+v", status, ans)
	}
	if f := e.find(keyA, []string{a.ID}, nil); len(f) != 1 || f[0].Status != "pending" {
		t.Errorf("file whose bytes could not be made durable: %+v, want pending", f)
	}
}

func TestBatchContentLimitsAreAdvertised(t *testing.T) {
	if l := newEnv(t).limits(keyA); l.BatchContent != 100 || l.BatchContentMaxBytes != 64<<20 {
		t.Errorf("local store: batchContent %d, batchContentMaxBytes %d", l.BatchContent, l.BatchContentMaxBytes)
	}
	e := newEnv(t, func(c *Config) { c.Blobs = noBatch{c.Blobs.(assemblingStore)} })
	if l := e.limits(keyA); l.BatchContent != 0 || l.BatchContentMaxBytes != 0 {
		t.Errorf("store without BatchCommitter: batchContent %d, batchContentMaxBytes %d", l.BatchContent, l.BatchContentMaxBytes)
	}
	if status, _ := e.sendBatch(keyA, []byte(`{"files":[{"id":"x","size":1}]}`+"\nx")); status != http.StatusNotFound {
		t.Errorf("batch upload where not offered: %d, want 404", status)
	}
}

// batchContentAnswers produces every documented answer of POST
// /api/v0/file/batch/content, for TestOpenAPIDescribesEveryAnswer.
func batchContentAnswers(t *testing.T) map[string]bool {
	e := newEnv(t, func(c *Config) { c.QuotaBytes = 1 << 30 })
	chk := newSpecChecker(t, e.url)
	s := specCall{chk.client(), e.url}
	const path = "/api/v0/file/batch/content"
	const octets = "application/octet-stream"
	done := e.upload(keyA, "done.txt", []byte("done"))
	p := e.create(keyA, "p.txt", []byte("pending")).Rec
	w := e.create(keyA, "w.txt", []byte("wanted")).Rec
	s.do(t, "POST", path, keyA, octets, batchBody([]string{p.ID, w.ID, done.ID}, // 200, with 200, 422 and 409 results
		map[string][]byte{p.ID: []byte("pending"), w.ID: []byte("not wanted"), done.ID: []byte("done")}))
	s.do(t, "POST", path, keyA, octets, []byte("not json\n"))                                                 // 400
	s.do(t, "POST", path, "", octets, batchBody([]string{p.ID}, map[string][]byte{p.ID: []byte("pending")}))  // 401
	s.do(t, "POST", path, keyA, octets, []byte(fmt.Sprintf(`{"files":[{"id":"x","size":%d}]}`+"\n", 65<<20))) // 413
	var many []string
	for i := range 101 {
		many = append(many, fmt.Sprintf(`{"id":"f%d","size":0}`, i))
	}
	s.do(t, "POST", path, keyA, octets, []byte(`{"files":[`+strings.Join(many, ",")+"]}\n"))                   // 400 too_many_values
	e.meta.down.Store(true)                                                                                    // the usage a byte quota is checked against cannot be read
	s.do(t, "POST", path, keyA, octets, batchBody([]string{p.ID}, map[string][]byte{p.ID: []byte("pending")})) // 503
	e.meta.down.Store(false)

	off := newEnv(t, func(c *Config) { c.Blobs = noBatch{c.Blobs.(assemblingStore)} })
	ochk := newSpecChecker(t, off.url)
	specCall{ochk.client(), off.url}.do(t, "POST", path, keyA, octets, []byte(`{"files":[{"id":"x","size":0}]}`+"\n")) // 404

	r := newEnv(t, func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 1 })
	rchk := newSpecChecker(t, r.url)
	rs := specCall{rchk.client(), r.url}
	rs.do(t, "POST", path, keyA, octets, []byte("x\n"))
	if status := rs.do(t, "POST", path, keyA, octets, []byte("x\n")); status != http.StatusTooManyRequests {
		t.Errorf("batch upload past the rate: %d, want 429", status)
	}
	seen := map[string]bool{}
	for _, c := range []*specChecker{chk, ochk, rchk} {
		for k := range c.seen {
			seen[k] = true
		}
	}
	return seen
}

// TestBatchContentRefusesSizesWhoseSumWouldWrap: sizes that add up past
// MaxInt64 (and so, wrapped, to a few bytes) are refused 413 before a byte
// of content is read, with or without a Content-Length.
func TestBatchContentRefusesSizesWhoseSumWouldWrap(t *testing.T) {
	e := newEnv(t)
	p := e.create(keyA, "p.txt", []byte("pending")).Rec
	// 70 MiB + MaxInt64 + the rest wraps to 5 bytes.
	sizes := []int64{70 << 20, math.MaxInt64, math.MaxInt64 - 70<<20 + 7}
	manifest := fmt.Sprintf(`{"files":[{"id":%q,"size":%d},{"id":"b","size":%d},{"id":"c","size":%d}]}`+"\n", p.ID, sizes[0], sizes[1], sizes[2])
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(manifest + "12345")
		if chunked {
			body = io.MultiReader(body) // no length known: sent chunked
		}
		req, _ := http.NewRequest("POST", e.url+"/api/v0/file/batch/content", body)
		req.Header.Set("Authorization", "Bearer "+keyA)
		req.Header.Set("Content-Type", "application/octet-stream")
		if r := e.send(req); r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked %v: sizes wrapping to 5 bytes answered %d %s, want 413", chunked, r.status, r.body)
		}
	}
	if f := e.find(keyA, []string{p.ID}, nil); len(f) != 1 || f[0].Status != "pending" {
		t.Errorf("the file of a refused batch is %+v, want pending", f)
	}
}
