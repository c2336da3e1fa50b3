package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/postgres"
)

// ClaimAll fails while the store is down, as every other call does.
func (f *faultyMeta) ClaimAll(ctx context.Context, files []meta.File) ([]meta.Claimed, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.ClaimAll(ctx, files)
}

// metaBackends runs fn against a server over each metadata store: SQLite,
// and PostgreSQL (PERSEUS_TEST_POSTGRES_URL), in a schema of its own.
func metaBackends(t *testing.T, fn func(t *testing.T, e *testEnv), tweak ...func(*Config)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newEnv(t, tweak...)) })
	t.Run("postgres", func(t *testing.T) {
		pg := openPostgres(t)
		fn(t, newEnv(t, append([]func(*Config){func(c *Config) { c.Meta = pg }}, tweak...)...))
	})
}

// openPostgres opens the test database in a fresh schema, dropped when t ends.
func openPostgres(t *testing.T) meta.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), testenv.PostgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// batchResp is the answer to a batch create.
type batchResp struct {
	Results []struct {
		apiResp
		Status int `json:"status"`
	} `json:"results"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// createBatch sends a batch create of files (each a name and a sourceHash).
func (e *testEnv) createBatch(key string, files ...map[string]any) (int, batchResp) {
	e.t.Helper()
	r := e.call("POST", "/api/v0/file/batch", key, map[string]any{"files": files})
	var b batchResp
	if err := json.Unmarshal(r.body, &b); err != nil {
		e.t.Fatalf("batch create: %d %s: %v", r.status, r.body, err)
	}
	return r.status, b
}

func item(name string, content []byte) map[string]any {
	return map[string]any{"name": name, "sourceHash": hashOf(content)}
}

func TestBatchCreateAnswersEachFileAsASingleCreateWould(t *testing.T) {
	metaBackends(t, func(t *testing.T, e *testEnv) {
		done := e.upload(keyA, "done.txt", []byte("uploaded already"))
		pend := e.create(keyA, "pending.txt", []byte("pending already"))
		fresh := []byte("fresh content")
		status, b := e.createBatch(keyA,
			item("dir/fresh.txt", fresh),
			item("done again.txt", []byte("uploaded already")),
			item("pending again.txt", []byte("pending already")),
			map[string]any{"name": "a//b", "sourceHash": hashOf(nil)},
			map[string]any{"name": "bad-hash.txt", "sourceHash": "xyz"},
			map[string]any{"name": "no-hash.txt"},
			item("fresh twice.txt", fresh),
		)
		if status != http.StatusOK || len(b.Results) != 7 {
			t.Fatalf("batch create: %d, %d results: %+v", status, len(b.Results), b)
		}
		r := b.Results
		if r[0].Status != http.StatusCreated || r[0].Rec == nil || r[0].Rec.Name != "dir/fresh.txt" || r[0].Rec.Status != "pending" || r[0].UploadURL == "" {
			t.Errorf("new content: %+v, want 201 with a pending record and an upload URL", r[0])
		}
		if r[1].Status != http.StatusConflict || r[1].Code != "file_exists" || r[1].Message == "" || r[1].Rec == nil || r[1].Rec.ID != done.ID || r[1].UploadURL != "" {
			t.Errorf("uploaded content: %+v, want 409 file_exists with the file %s", r[1], done.ID)
		}
		if r[2].Status != http.StatusOK || r[2].Rec == nil || r[2].Rec.ID != pend.Rec.ID || r[2].Rec.Name != "pending.txt" || r[2].UploadURL == "" {
			t.Errorf("pending content: %+v, want 200 with the record %s and a fresh URL", r[2], pend.Rec.ID)
		}
		for i, code := range map[int]string{3: "invalid_name", 4: "invalid_source_hash", 5: "invalid_source_hash"} {
			if r[i].Status != http.StatusBadRequest || r[i].Code != code || r[i].Message == "" || r[i].Rec != nil {
				t.Errorf("result %d: %+v, want 400 %s with a message", i, r[i], code)
			}
		}
		if r[6].Status != http.StatusOK || r[6].Rec == nil || r[6].Rec.ID != r[0].Rec.ID {
			t.Errorf("the same new content twice: %+v, want 200 with the record of the first (%+v)", r[6], r[0].Rec)
		}
		single := e.create(keyA, "x", []byte("uploaded already"))
		if single.Message != r[1].Message {
			t.Errorf("a batch's 409 says %q, a single create's %q: they should say the same", r[1].Message, single.Message)
		}
		for _, i := range []int{0, 2} {
			checkFile(t, *r[i].Rec)
		}
		if p := e.put(r[0].UploadURL, fresh); p.status != http.StatusOK || p.Status != "uploaded" {
			t.Errorf("PUT to a batch's upload URL: %d %s", p.status, p.body)
		}
		if p := e.put(r[2].UploadURL, []byte("pending already")); p.status != http.StatusOK || p.Status != "uploaded" {
			t.Errorf("PUT to a batch's fresh upload URL of a pending record: %d %s", p.status, p.body)
		}
		if _, b := e.createBatch(keyB, item("fresh.txt", fresh)); b.Results[0].Status != http.StatusCreated || b.Results[0].Rec.ID == r[0].Rec.ID {
			t.Errorf("another tenant's batch: %+v, want a record of its own", b.Results[0])
		}
	})
}

func TestBatchCreateHoldsTheFilesQuotaWithinTheBatch(t *testing.T) {
	metaBackends(t, func(t *testing.T, e *testEnv) {
		kept := e.upload(keyA, "kept.txt", []byte("kept"))
		var files []map[string]any
		for i := range 5 {
			files = append(files, item(fmt.Sprint(i), []byte(fmt.Sprint("new ", i))))
		}
		files = append(files, item("kept again", []byte("kept")))
		status, b := e.createBatch(keyA, files...)
		if status != http.StatusOK || len(b.Results) != 6 {
			t.Fatalf("batch create: %d %+v", status, b)
		}
		for i, want := range []int{201, 201, 507, 507, 507, 409} {
			if got := b.Results[i]; got.Status != want || (want == 507 && (got.Code != "quota_exceeded" || !strings.Contains(got.Message, "quota is 3"))) {
				t.Errorf("result %d: %d %s %q, want %d", i, got.Status, got.Code, got.Message, want)
			}
		}
		if got := b.Results[5].Rec; got == nil || got.ID != kept.ID {
			t.Errorf("content kept at the quota: %+v, want the file %s", got, kept.ID)
		}
		var l Limits
		if r := e.call("GET", "/api/v0/limits", keyA, nil); json.Unmarshal(r.body, &l) != nil || l.UsedFiles == nil || *l.UsedFiles != 3 {
			t.Errorf("usage after the batch: %s, want the 3 files of the quota", r.body)
		}
	}, func(c *Config) { c.QuotaFiles = 3 })
}

func TestBatchCreateRefusesWhatNoBatchCanBe(t *testing.T) {
	e := newEnv(t)
	var l Limits
	if r := e.call("GET", "/api/v0/limits", keyA, nil); json.Unmarshal(r.body, &l) != nil || l.BatchCreate != maxBatchCreate {
		t.Errorf("limits: %s, want batchCreate %d", r.body, maxBatchCreate)
	}
	many := make([]map[string]any, maxBatchCreate+1)
	for i := range many {
		many[i] = item(fmt.Sprint(i), []byte(fmt.Sprint(i)))
	}
	for _, c := range []struct {
		body   any
		status int
		code   string
	}{
		{map[string]any{"files": many}, 400, "too_many_values"},
		{map[string]any{"files": []any{}}, 400, "bad_request"},
		{map[string]any{}, 400, "bad_request"},
		{map[string]any{"files": "x"}, 400, "bad_request"},
	} {
		if r := e.call("POST", "/api/v0/file/batch", keyA, c.body); r.status != c.status || r.Code != c.code {
			t.Errorf("%.80v: %d %s, want %d %s", c.body, r.status, r.Code, c.status, c.code)
		}
	}
	if got := e.find(keyA, nil, []string{hashOf([]byte("0"))}); len(got) != 0 {
		t.Errorf("a refused batch recorded files: %+v", got)
	}
	if r := e.call("POST", "/api/v0/file/batch", "", map[string]any{"files": many[:1]}); r.status != http.StatusUnauthorized {
		t.Errorf("no key: %d", r.status)
	}
	e.meta.down.Store(true)
	if r := e.call("POST", "/api/v0/file/batch", keyA, map[string]any{"files": many[:2]}); r.status != http.StatusServiceUnavailable || r.Code != "unavailable" {
		t.Errorf("store down: %d %s", r.status, r.body)
	}
	e.meta.down.Store(false)
}

// TestBatchCreateOnS3AnswersPresignedURLs: a batch's upload URLs are the
// store's own where it presigns, and bytes PUT there are verified as any.
func TestBatchCreateOnS3AnswersPresignedURLs(t *testing.T) {
	e := newS3Env(t)
	content := []byte("to S3, created in a batch")
	status, b := e.createBatch(keyA, item("s3.txt", content), item("s3-2.txt", []byte("another")))
	if status != http.StatusOK || b.Results[0].Status != http.StatusCreated || strings.HasPrefix(b.Results[0].UploadURL, e.url) {
		t.Fatalf("batch create on S3: %d %+v, want 201 with a URL of the store", status, b)
	}
	req, _ := http.NewRequest("PUT", b.Results[0].UploadURL, bytes.NewReader(content))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("PUT to S3: %v %v", res, err)
	}
	res.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f := e.call("GET", "/api/v0/file/"+b.Results[0].Rec.ID+"?wait=2s", keyA, nil)
		if f.Status == "uploaded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not verified: %s", f.body)
		}
	}
}

// batchAnswers produces the documented answers of POST /api/v0/file/batch
// and returns what its checker saw.
func batchAnswers(t *testing.T) map[string]bool {
	e := newEnv(t, func(c *Config) { c.QuotaFiles = 3 })
	chk := newSpecChecker(t, e.url)
	s := specCall{chk.client(), e.url}
	e.upload(keyA, "done.txt", []byte("done"))
	e.create(keyA, "pending.txt", []byte("pending"))
	const path = "/api/v0/file/batch"
	s.json(t, "POST", path, keyA, map[string]any{"files": []map[string]any{ // 200, with every status of a result
		item("new.txt", []byte("new")), item("done.txt", []byte("done")), item("pending.txt", []byte("pending")),
		{"name": "", "sourceHash": hashOf(nil)}, item("over.txt", []byte("over the quota")),
	}})
	s.json(t, "POST", path, keyA, map[string]any{"files": []any{}})                           // 400
	s.json(t, "POST", path, "", map[string]any{"files": []any{}})                             // 401
	s.do(t, "POST", path, keyA, "application/json", bytes.Repeat([]byte(" "), maxJSONBody+1)) // 413
	s.do(t, "POST", path, keyA, "text/plain", []byte(`{}`))                                   // 415
	e.meta.down.Store(true)
	s.json(t, "POST", path, keyA, map[string]any{"files": []map[string]any{item("x", []byte("x"))}}) // 503
	e.meta.down.Store(false)

	r := newEnv(t, func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 1 })
	rchk := newSpecChecker(t, r.url)
	rs := specCall{rchk.client(), r.url}
	rs.json(t, "POST", path, keyA, map[string]any{"files": []map[string]any{item("x", []byte("x"))}})
	if status := rs.json(t, "POST", path, keyA, map[string]any{"files": []map[string]any{item("x", []byte("x"))}}); status != http.StatusTooManyRequests {
		t.Errorf("batch create past the rate: %d, want 429", status)
	}
	seen := map[string]bool{}
	for k := range chk.seen {
		seen[k] = true
	}
	for k := range rchk.seen {
		seen[k] = true
	}
	return seen
}
