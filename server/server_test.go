package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/perseus-go/perseus/store/blob/local"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// The static keys every test server accepts, and the tenants they map to.
const (
	keyA    = "test-key-tenant-a"
	keyB    = "test-key-tenant-b"
	tenantA = "tenant-a"
	tenantB = "tenant-b"
)

var createdAtShape = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// testEnv is one real server on loopback over real SQLite and local stores.
type testEnv struct {
	t       testing.TB
	srv     *Server
	url     string
	meta    *faultyMeta
	blobs   *faultyBlobs
	blobDir string
}

func newEnv(t testing.TB, tweak ...func(*Config)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobDir := filepath.Join(dir, "blobs")
	bs, err := local.Open(blobDir)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, meta: &faultyMeta{Store: db}, blobs: &faultyBlobs{Store: bs}, blobDir: blobDir}
	cfg := Config{
		Meta: e.meta, Blobs: e.blobs, SigningKey: testSigningKey,
		StaticKeys: map[string]string{keyA: tenantA, keyB: tenantB},
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range tweak {
		f(&cfg)
	}
	if e.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	e.url = ts.URL
	return e
}

// apiResp holds any answer of the API: a File at the top level (get, upload),
// a create or conflict answer, a find answer, or an error.
type apiResp struct {
	File
	Message   string `json:"message"`
	Code      string `json:"code"`
	Rec       *File  `json:"file"`
	UploadURL string `json:"uploadUrl"`
	Files     []File `json:"files"`
	Existing  bool   `json:"existing"`

	status int
	body   []byte
}

// send does one request and checks what every answer must be: JSON, and a
// non-empty message on anything but 2xx.
func (e *testEnv) send(req *http.Request) apiResp {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	r := apiResp{status: res.StatusCode}
	if r.body, err = io.ReadAll(res.Body); err != nil {
		e.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	if res.StatusCode == http.StatusNoContent {
		if len(r.body) != 0 {
			e.t.Errorf("%s %s: 204 with a body %q", req.Method, req.URL, r.body)
		}
		return r
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("%s %s: %d with Content-Type %q, body %q", req.Method, req.URL, res.StatusCode, ct, r.body)
	}
	if err := json.Unmarshal(r.body, &r); err != nil {
		e.t.Fatalf("%s %s: %d with a body that is not JSON: %v: %q", req.Method, req.URL, res.StatusCode, err, r.body)
	}
	if res.StatusCode >= 300 && r.Message == "" {
		e.t.Errorf("%s %s: %d without a message: %s", req.Method, req.URL, res.StatusCode, r.body)
	}
	return r
}

// call sends body (nil, a string sent as is, or a value sent as JSON) with key's bearer header.
func (e *testEnv) call(method, path, key string, body any) apiResp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return e.send(req)
}

func (e *testEnv) create(key, name string, content []byte) apiResp {
	e.t.Helper()
	return e.call("POST", "/api/v0/file", key, map[string]string{"name": name, "sourceHash": hashOf(content)})
}

// put uploads content to an upload URL with nothing but what Go's client sends by default.
func (e *testEnv) put(uploadURL string, content []byte) apiResp {
	e.t.Helper()
	req, err := http.NewRequest("PUT", uploadURL, bytes.NewReader(content))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.send(req)
}

func (e *testEnv) find(key string, ids, hashes []string) []File {
	e.t.Helper()
	r := e.call("POST", "/api/v0/file/find", key, map[string][]string{"ids": ids, "sourceHashes": hashes})
	if r.status != http.StatusOK || r.Files == nil {
		e.t.Fatalf("find: %d %s", r.status, r.body)
	}
	for _, f := range r.Files {
		checkFile(e.t, f)
	}
	return r.Files
}

// upload creates and uploads content for key, failing the test on any surprise.
func (e *testEnv) upload(key, name string, content []byte) File {
	e.t.Helper()
	c := e.create(key, name, content)
	if c.status != http.StatusCreated {
		e.t.Fatalf("create: %d %s", c.status, c.body)
	}
	if p := e.put(c.UploadURL, content); p.status != http.StatusOK || p.Status != "uploaded" {
		e.t.Fatalf("put: %d %s", p.status, p.body)
	}
	return *c.Rec
}

// storedFiles returns every regular file under the blob store's directory
// (objects and temp files alike), by path relative to it.
func (e *testEnv) storedFiles() map[string][]byte {
	e.t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(e.blobDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(e.blobDir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func checkFile(t testing.TB, f File) {
	t.Helper()
	if f.ID == "" || f.Name == "" || !createdAtShape.MatchString(f.CreatedAt) {
		t.Errorf("malformed File %+v", f)
	}
	if f.Status != "pending" && f.Status != "uploaded" && f.Status != "failed" {
		t.Errorf("File %s has status %q", f.ID, f.Status)
	}
}

func TestLifecycleCreatePutFindGetDelete(t *testing.T) {
	e := newEnv(t)
	content := []byte("the quarterly report")
	c := e.create(keyA, "report.pdf", content)
	if c.status != http.StatusCreated || c.Rec == nil || c.Rec.Status != "pending" || c.UploadURL == "" {
		t.Fatalf("create: %d %s", c.status, c.body)
	}
	checkFile(t, *c.Rec)
	id := c.Rec.ID
	if c.Rec.Name != "report.pdf" || c.Rec.SourceHash != hashOf(content) {
		t.Errorf("create answered %+v", *c.Rec)
	}

	p := e.put(c.UploadURL, content)
	if p.status != http.StatusOK || p.ID != id || p.Status != "uploaded" || p.Size != int64(len(content)) {
		t.Fatalf("put: %d %s", p.status, p.body)
	}
	for _, q := range []struct{ ids, hashes []string }{
		{[]string{id}, nil},
		{nil, []string{hashOf(content)}},
		{nil, []string{strings.ToUpper(hashOf(content))}},
		{[]string{id, "no-such-id"}, []string{hashOf(content), hashOf([]byte("other"))}}, // each once
	} {
		if fs := e.find(keyA, q.ids, q.hashes); len(fs) != 1 || fs[0].ID != id || fs[0].Status != "uploaded" {
			t.Errorf("find %v %v = %+v", q.ids, q.hashes, fs)
		}
	}
	if fs := e.find(keyA, []string{"no-such-id"}, nil); len(fs) != 0 {
		t.Errorf("find of an unknown id = %+v", fs)
	}
	g := e.call("GET", "/api/v0/file/"+id, keyA, nil)
	if g.status != http.StatusOK || g.ID != id || g.Status != "uploaded" || g.Name != "report.pdf" {
		t.Fatalf("get: %d %s", g.status, g.body)
	}
	checkFile(t, g.File)
	stored := e.storedFiles()
	if len(stored) != 1 {
		t.Fatalf("store holds %d files after one upload: %v", len(stored), stored)
	}
	for _, b := range stored {
		if !bytes.Equal(b, content) {
			t.Errorf("stored %q, uploaded %q", b, content)
		}
	}

	if d := e.call("DELETE", "/api/v0/file/"+id, keyA, nil); d.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", d.status, d.body)
	}
	if g := e.call("GET", "/api/v0/file/"+id, keyA, nil); g.status != http.StatusNotFound {
		t.Errorf("get after delete: %d %s", g.status, g.body)
	}
	if d := e.call("DELETE", "/api/v0/file/"+id, keyA, nil); d.status != http.StatusNotFound {
		t.Errorf("second delete: %d %s", d.status, d.body)
	}
	if fs := e.find(keyA, []string{id}, []string{hashOf(content)}); len(fs) != 0 {
		t.Errorf("find after delete = %+v", fs)
	}
	if left := e.storedFiles(); len(left) != 0 {
		t.Errorf("content left in the data dir after delete: %v", left)
	}
}

func TestCreateDedupByStatus(t *testing.T) {
	e := newEnv(t)
	up := []byte("already uploaded")
	first := e.upload(keyA, "a.bin", up)
	c := e.create(keyA, "again.bin", up)
	if c.status != http.StatusConflict || c.Rec == nil || c.Rec.ID != first.ID || c.Rec.Status != "uploaded" {
		t.Errorf("create of uploaded content: %d %s", c.status, c.body)
	}

	pend := []byte("still pending")
	p1 := e.create(keyA, "p.bin", pend)
	p2 := e.create(keyA, "p.bin", pend)
	if p1.status != http.StatusCreated || p2.status != http.StatusOK || p2.Rec.ID != p1.Rec.ID ||
		p2.Rec.Status != "pending" || p2.UploadURL == "" {
		t.Fatalf("create of pending content: %d %s then %d %s", p1.status, p1.body, p2.status, p2.body)
	}
	if r := e.put(p2.UploadURL, pend); r.status != http.StatusOK || r.Status != "uploaded" {
		t.Errorf("put to the fresh URL: %d %s", r.status, r.body)
	}

	bad := []byte("will fail once")
	f1 := e.create(keyA, "f.bin", bad)
	if r := e.put(f1.UploadURL, []byte("not the declared bytes")); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("wrong bytes: %d %s", r.status, r.body)
	}
	f2 := e.create(keyA, "f.bin", bad)
	if f2.status != http.StatusOK || f2.Rec.ID != f1.Rec.ID || f2.Rec.Status != "pending" || f2.Rec.Reason != "" {
		t.Fatalf("create of failed content: %d %s", f2.status, f2.body)
	}
	if r := e.put(f2.UploadURL, bad); r.status != http.StatusOK || r.Status != "uploaded" {
		t.Errorf("retry after failure: %d %s", r.status, r.body)
	}
}

func TestConcurrentCreatesOfOneContentYieldOneRecord(t *testing.T) {
	e := newEnv(t)
	content := []byte("everyone wants this one")
	var wg sync.WaitGroup
	res := make([]apiResp, 32)
	for i := range res {
		wg.Go(func() { res[i] = e.create(keyA, fmt.Sprintf("copy-%d", i), content) })
	}
	wg.Wait()
	created := 0
	for i, r := range res {
		if r.status == http.StatusCreated {
			created++
		}
		if r.status != http.StatusCreated && r.status != http.StatusOK || r.Rec.ID != res[0].Rec.ID {
			t.Errorf("create %d: %d %s (first id %s)", i, r.status, r.body, res[0].Rec.ID)
		}
	}
	if created != 1 {
		t.Errorf("%d creates answered 201, want exactly 1", created)
	}
	if fs := e.find(keyA, nil, []string{hashOf(content)}); len(fs) != 1 {
		t.Errorf("%d records for one content", len(fs))
	}
}
