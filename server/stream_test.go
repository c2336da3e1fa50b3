package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/perseus-go/perseus/store/meta"
)

// streamEnv is a server of either backend, with a way to list what its
// blob store holds.
type streamEnv struct {
	*testEnv
	keys   func() []string // every stored object (local: every file, temp files too)
	tenant bool            // whether keyB works too
}

// streamBackends runs fn against the embedded default and against S3.
func streamBackends(t *testing.T, fn func(t *testing.T, e streamEnv), tweak ...func(*Config)) {
	t.Run("embedded", func(t *testing.T) {
		e := newEnv(t, tweak...)
		fn(t, streamEnv{e, func() []string { return slices.Sorted(mapKeys(e.storedFiles())) }, true})
	})
	t.Run("s3", func(t *testing.T) {
		e := newS3Env(t, tweak...)
		fn(t, streamEnv{e.testEnv, e.objects, false})
	})
}

func mapKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// readCounter is a request body that counts what is read from it.
type readCounter struct {
	r io.Reader
	n atomic.Int64
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// stream POSTs content to /api/v0/file/stream with Expect: 100-continue
// and returns the answer and how many body bytes the client read.
func (e *testEnv) stream(key, name string, content []byte) (apiResp, int64) {
	e.t.Helper()
	body := &readCounter{r: bytes.NewReader(content)}
	req, err := http.NewRequest("POST", e.url+"/api/v0/file/stream?name="+url.QueryEscape(name), body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.ContentLength = int64(len(content))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Expect", "100-continue")
	c := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	defer c.CloseIdleConnections()
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("stream: %v", err)
	}
	defer res.Body.Close()
	r := apiResp{status: res.StatusCode}
	r.body, _ = io.ReadAll(res.Body)
	if err := json.Unmarshal(r.body, &r); err != nil {
		e.t.Fatalf("stream: %d with a body that is not JSON: %q", res.StatusCode, r.body)
	}
	if res.StatusCode >= 300 && r.Message == "" {
		e.t.Errorf("stream: %d without a message: %s", res.StatusCode, r.body)
	}
	return r, body.n.Load()
}

func TestStreamStoresAndRecordsNewContent(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		content := randomBytes(3<<20 + 17)
		r, _ := e.stream(keyA, "big.bin", content)
		if r.status != http.StatusCreated || r.Rec == nil || r.Existing {
			t.Fatalf("stream: %d %s", r.status, r.body)
		}
		f := *r.Rec
		checkFile(t, f)
		if f.Status != "uploaded" || f.SourceHash != hashOf(content) || f.Size != int64(len(content)) || f.Name != "big.bin" {
			t.Fatalf("stream answered %+v, want uploaded %s of %d bytes", f, hashOf(content), len(content))
		}
		if rec, err := e.srv.cfg.Meta.Get(context.Background(), tenantA, f.ID); err != nil || rec.Kind != meta.KindStreamed {
			t.Errorf("record %s: kind %q, %v; want streamed", f.ID, rec.Kind, err)
		}
		got := e.find(keyA, nil, []string{hashOf(content)})
		if len(got) != 1 || got[0].ID != f.ID || got[0].Status != "uploaded" {
			t.Fatalf("find by hash: %+v", got)
		}
		if b := e.content(keyA, f.ID); !bytes.Equal(b, content) {
			t.Fatalf("download returned %d bytes, not the %d sent", len(b), len(content))
		}
		if keys := e.keys(); len(keys) != 1 || !strings.HasSuffix(keys[0], contentKey(tenantA, "", f.ID)) {
			t.Fatalf("stored %v, want only the content under %s", keys, contentKey(tenantA, "", f.ID))
		}
		// The contract's create now finds the content there.
		if c := e.create(keyA, "again.bin", content); c.status != http.StatusConflict || c.Rec == nil || c.Rec.ID != f.ID {
			t.Fatalf("create of the same content: %d %s", c.status, c.body)
		}
		// Another tenant does not see it; its own stream stores its own copy.
		if e.tenant {
			if r, _ := e.stream(keyB, "big.bin", content); r.status != http.StatusCreated || r.Rec.ID == f.ID {
				t.Fatalf("tenant B's stream: %d %s", r.status, r.body)
			}
			if d := e.call("DELETE", "/api/v0/file/"+f.ID, keyB, nil); d.status != http.StatusNotFound {
				t.Fatalf("tenant B deletes A's file: %d %s", d.status, d.body)
			}
		}
		if d := e.call("DELETE", "/api/v0/file/"+f.ID, keyA, nil); d.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", d.status, d.body)
		}
		for _, k := range e.keys() {
			if strings.Contains(k, f.ID) {
				t.Errorf("after delete, %s is still stored", k)
			}
		}
	})
}

// content downloads a file's content, failing the test on anything but 200.
func (e *testEnv) content(key, id string) []byte {
	e.t.Helper()
	res, b := e.download("GET", key, id, nil)
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("download %s: %d %q", id, res.StatusCode, b)
	}
	return b
}

func TestStreamSaysHashFirstWithoutReadingWhenASizeMatches(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		if r, _ := e.stream(keyA, "old.bin", randomBytes(1<<20)); r.status != http.StatusCreated {
			t.Fatalf("first stream: %d %s", r.status, r.body)
		}
		before := e.keys()
		// Other content of the same size: it may not be sent before its
		// hash, and nothing of it is read.
		r, read := e.stream(keyA, "new.bin", randomBytes(1<<20))
		if r.status != http.StatusConflict || r.Code != "hash_first" {
			t.Fatalf("stream: %d %s, want 409 hash_first", r.status, r.body)
		}
		if read != 0 {
			t.Errorf("the client sent %d body bytes; Expect: 100-continue should have kept them", read)
		}
		if after := e.keys(); !slices.Equal(before, after) {
			t.Errorf("stored %v, was %v", after, before)
		}
		// Another size goes.
		if r, _ := e.stream(keyA, "other.bin", randomBytes(1<<20+1)); r.status != http.StatusCreated {
			t.Fatalf("stream of another size: %d %s", r.status, r.body)
		}
	})
}

func TestStreamGivesItsBytesToAPendingRecordOfTheContent(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		content := randomBytes(2 << 20)
		c := e.create(keyA, "pending.bin", content)
		if c.status != http.StatusCreated {
			t.Fatalf("create: %d %s", c.status, c.body)
		}
		r, _ := e.stream(keyA, "streamed.bin", content)
		if r.status != http.StatusOK || !r.Existing || r.Rec == nil || r.Rec.ID != c.Rec.ID || r.Rec.Status != "uploaded" {
			t.Fatalf("stream: %d %s, want 200 existing with %s uploaded", r.status, r.body, c.Rec.ID)
		}
		if b := e.content(keyA, c.Rec.ID); !bytes.Equal(b, content) {
			t.Fatal("the pending record did not get the bytes")
		}
		for _, k := range e.keys() {
			if strings.Contains(k, "/streamed/") {
				t.Errorf("the streamed copy %s was kept", k)
			}
		}
	})
}

// blindSizes says no tenant has a file of any size, as when another
// upload of the content finishes between the question and the answer.
type blindSizes struct{ meta.Store }

func (blindSizes) HasSize(context.Context, string, int64) (bool, error) { return false, nil }

func TestStreamReturnsTheUploadedFileThatWonAndDiscardsItsBytes(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		content := randomBytes(1 << 20)
		first, _ := e.stream(keyA, "first.bin", content)
		if first.status != http.StatusCreated {
			t.Fatalf("first stream: %d %s", first.status, first.body)
		}
		f := *first.Rec
		before := e.keys()
		r, _ := e.stream(keyA, "second.bin", content)
		if r.status != http.StatusOK || !r.Existing || r.Rec == nil || r.Rec.ID != f.ID {
			t.Fatalf("stream: %d %s, want 200 existing %s", r.status, r.body, f.ID)
		}
		if after := e.keys(); !slices.Equal(before, after) {
			t.Errorf("stored %v, was %v", after, before)
		}
	}, func(c *Config) { c.Meta = blindSizes{c.Meta} })
}

func TestStreamRefusesWhatItCannotTake(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFileSize = 4 << 20 })
	if l := e.call("GET", "/api/v0/limits", keyA, nil); !bytes.Contains(l.body, []byte(`"streamMaxSize":4194304`)) {
		t.Errorf("limits: %s, want streamMaxSize 4194304", l.body)
	}
	if r, read := e.stream(keyA, "big.bin", make([]byte, 4<<20+1)); r.status != http.StatusRequestEntityTooLarge || read != 0 {
		t.Errorf("too large: %d %s, %d bytes read", r.status, r.body, read)
	}
	if r, _ := e.stream(keyA, "a//b", []byte("x")); r.status != http.StatusBadRequest || r.Code != "invalid_name" {
		t.Errorf("bad name: %d %s", r.status, r.body)
	}
	if r, _ := e.stream("wrong-key", "a", []byte("x")); r.status != http.StatusUnauthorized {
		t.Errorf("bad key: %d %s", r.status, r.body)
	}
	// No Content-Length: chunked.
	req, _ := http.NewRequest("POST", e.url+"/api/v0/file/stream?name=x", io.MultiReader(strings.NewReader("abc")))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+keyA)
	if r := e.send(req); r.status != http.StatusLengthRequired {
		t.Errorf("chunked: %d %s", r.status, r.body)
	}
	if files := e.storedFiles(); len(files) != 0 {
		t.Errorf("stored %v", files)
	}
}

func TestStreamCutShortKeepsNothing(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		u, _ := url.Parse(e.url)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/v0/file/stream?name=cut HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", u.Host, keyA, 6<<20)
		conn.Write(randomBytes(1 << 20))
		conn.(*net.TCPConn).CloseWrite()
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusBadRequest || !bytes.Contains(b, []byte("upload_incomplete")) {
			t.Fatalf("cut short: %d %s", res.StatusCode, b)
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(e.keys()) != 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // the store's abort may finish after the answer
		}
		if keys := e.keys(); len(keys) != 0 {
			t.Errorf("stored %v after a cut-short stream", keys)
		}
		if l := e.call("GET", "/api/v0/file", keyA, nil); bytes.Contains(l.body, []byte(`"cut"`)) {
			t.Errorf("a record was made: %s", l.body)
		}
	})
}

func TestConcurrentStreamsOfOneContentKeepOneFileAndOneObject(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		content := randomBytes(2 << 20)
		const n = 6
		answers := make(chan apiResp, n)
		for range n {
			go func() { r, _ := e.stream(keyA, "same.bin", content); answers <- r }()
		}
		ids := map[string]bool{}
		for range n {
			r := <-answers
			switch {
			case r.status == http.StatusConflict && r.Code == "hash_first":
			case (r.status == http.StatusCreated || r.status == http.StatusOK) && r.Rec != nil && r.Rec.Status == "uploaded":
				ids[r.Rec.ID] = true
			default:
				t.Errorf("stream: %d %s", r.status, r.body)
			}
		}
		files := e.find(keyA, nil, []string{hashOf(content)})
		if len(files) != 1 || files[0].Status != "uploaded" || len(ids) != 1 || !ids[files[0].ID] {
			t.Fatalf("find: %+v; streams answered with %v", files, ids)
		}
		if b := e.content(keyA, files[0].ID); !bytes.Equal(b, content) {
			t.Fatal("the file's content is not what was sent")
		}
		if keys := e.keys(); len(keys) != 1 {
			t.Errorf("stored %v, want one object", keys)
		}
	}, func(c *Config) { c.Meta = blindSizes{c.Meta} }) // let every stream go
}

// deletedAtOnce deletes every record it creates right away, as a DELETE
// landing between a stream's record and its commit would.
type deletedAtOnce struct{ meta.Store }

func (d deletedAtOnce) Claim(ctx context.Context, f meta.File) (meta.File, bool, error) {
	rec, created, err := d.Store.Claim(ctx, f)
	if err == nil && created {
		_, err = d.Store.Delete(ctx, rec.Tenant, rec.ID)
	}
	return rec, created, err
}

func TestStreamOfAFileDeletedMeanwhileKeepsNothing(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		r, _ := e.stream(keyA, "gone.bin", randomBytes(1<<20))
		if r.status != http.StatusGone || r.Code != "file_deleted" || !strings.Contains(r.Message, "while its bytes were being stored") {
			t.Fatalf("stream: %d %s, want 410 file_deleted", r.status, r.body)
		}
		if keys := e.keys(); len(keys) != 0 {
			t.Errorf("stored %v", keys)
		}
	}, func(c *Config) { c.Meta = deletedAtOnce{c.Meta} })
}

func TestStreamThatCannotCommitKeepsNothingAndSaysSo(t *testing.T) {
	e := newEnv(t)
	e.blobs.commitFail.Store(true)
	content := randomBytes(1 << 20)
	r, _ := e.stream(keyA, "c.bin", content)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("stream: %d %s, want 503", r.status, r.body)
	}
	if files := e.storedFiles(); len(files) != 0 {
		t.Errorf("stored %v", slices.Sorted(mapKeys(files)))
	}
	// The record says why; the contract's way completes it.
	got := e.find(keyA, nil, []string{hashOf(content)})
	if len(got) != 1 || got[0].Status != "failed" {
		t.Fatalf("find: %+v, want one failed record", got)
	}
	e.blobs.commitFail.Store(false)
	c := e.create(keyA, "c.bin", content)
	if c.status != http.StatusOK || c.Rec == nil || c.Rec.ID != got[0].ID {
		t.Fatalf("create: %d %s, want 200 with the failed record, pending again", c.status, c.body)
	}
	if p := e.put(c.UploadURL, content); p.status != http.StatusOK || p.Status != "uploaded" {
		t.Fatalf("put: %d %s", p.status, p.body)
	}
}

func TestSweepRemovesAStreamedOrphanAndKeepsAStreamedFile(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.OrphanGrace = time.Nanosecond })
	r, _ := e.stream(keyA, "kept.bin", randomBytes(1<<20))
	if r.status != http.StatusCreated {
		t.Fatalf("stream: %d %s", r.status, r.body)
	}
	orphan := contentKey(tenantA, "", uuid.Must(uuid.NewV7()).String())
	w, err := e.blobs.Create(context.Background(), orphan)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("nobody's"))
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	rep, err := e.srv.core.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.OrphanedObjects != 1 {
		t.Errorf("Sweep = %+v, want 1 orphan", rep)
	}
	if _, err := e.blobs.Stat(context.Background(), orphan); err == nil {
		t.Error("the orphan is still there")
	}
	if b := e.content(keyA, r.Rec.ID); len(b) != 1<<20 {
		t.Errorf("the streamed file lost its content: %d bytes", len(b))
	}
}
