package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/perseus-go/perseus/store/blob"
)

func (f *faultyBlobs) Stat(ctx context.Context, key string) (blob.Info, error) {
	if f.down.Load() {
		return blob.Info{}, errDown
	}
	return f.Store.Stat(ctx, key)
}

// download GETs (or HEADs) a file's content with the given extra headers and
// returns the raw answer, its body read.
func (e *testEnv) download(method, key, id string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+"/api/v0/file/"+id+"/content", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res, body
}

// wantError checks that an answer is the JSON error with this status and code.
func wantError(t *testing.T, what string, res *http.Response, body []byte, status int, code string) {
	t.Helper()
	var e Error
	if res.StatusCode != status || res.Header.Get("Content-Type") != "application/json" ||
		json.Unmarshal(body, &e) != nil || e.Code != code || e.Message == "" {
		t.Errorf("%s: %d %s %s, want %d %s", what, res.StatusCode, res.Header.Get("Content-Type"), body, status, code)
	}
}

func TestDownloadServesContentWithRanges(t *testing.T) {
	e := newEnv(t)
	content := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
	f := e.upload(keyA, "big name é.bin", content)
	etag := `"` + hashOf(content) + `"`

	res, body := e.download("GET", keyA, f.ID, nil)
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("GET: %d, %d bytes", res.StatusCode, len(body))
	}
	for k, want := range map[string]string{
		"Content-Type": "application/octet-stream", "Content-Length": fmt.Sprint(len(content)),
		"ETag": etag, "Accept-Ranges": "bytes",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if _, p, err := mime.ParseMediaType(res.Header.Get("Content-Disposition")); err != nil || p["filename"] != "big name é.bin" {
		t.Errorf("Content-Disposition %q: %v %v", res.Header.Get("Content-Disposition"), p, err)
	}
	if d := res.Header.Get("Repr-Digest"); d == "" {
		t.Error("no Repr-Digest")
	}

	for _, tc := range []struct {
		rng        string
		start, end int // inclusive
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=10-19", 10, 19},
		{"bytes=999990-", 999990, 999999},
		{"bytes=-5", 999995, 999999},
		{"bytes=500000-2000000", 500000, 999999},
	} {
		res, body := e.download("GET", keyA, f.ID, map[string]string{"Range": tc.rng})
		want := content[tc.start : tc.end+1]
		cr := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, len(content))
		if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want) || res.Header.Get("Content-Range") != cr {
			t.Errorf("%s: %d %q, %d bytes; want 206 %q, %d bytes", tc.rng, res.StatusCode, res.Header.Get("Content-Range"), len(body), cr, len(want))
		}
	}

	res, body = e.download("GET", keyA, f.ID, map[string]string{"Range": "bytes=0-1,10-11"})
	mt, params, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if res.StatusCode != http.StatusPartialContent || mt != "multipart/byteranges" {
		t.Fatalf("two ranges: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for _, want := range []string{"01", "01"} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(p); string(got) != want {
			t.Errorf("part %s: %q, want %q", p.Header.Get("Content-Range"), got, want)
		}
	}

	res, body = e.download("GET", keyA, f.ID, map[string]string{"Range": "bytes=2000000-"})
	wantError(t, "range past the end", res, body, http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable")

	res, body = e.download("GET", keyA, f.ID, map[string]string{"If-None-Match": etag})
	if res.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-None-Match with the ETag: %d, %d bytes", res.StatusCode, len(body))
	}
	res, body = e.download("GET", keyA, f.ID, map[string]string{"If-Match": `"something else"`})
	wantError(t, "If-Match with another ETag", res, body, http.StatusPreconditionFailed, "precondition_failed")
	res, body = e.download("GET", keyA, f.ID, map[string]string{"Range": "bytes=0-3", "If-Range": `"stale"`})
	if res.StatusCode != http.StatusOK || len(body) != len(content) {
		t.Errorf("If-Range with a stale ETag: %d, %d bytes; want the whole content", res.StatusCode, len(body))
	}

	res, body = e.download("HEAD", keyA, f.ID, nil)
	if res.StatusCode != http.StatusOK || len(body) != 0 || res.Header.Get("Content-Length") != fmt.Sprint(len(content)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", res.StatusCode, len(body), res.Header.Get("Content-Length"))
	}
}

func TestDownloadEmptyFile(t *testing.T) {
	e := newEnv(t)
	f := e.upload(keyA, "empty", nil)
	res, body := e.download("GET", keyA, f.ID, nil)
	if res.StatusCode != http.StatusOK || len(body) != 0 || res.Header.Get("ETag") != `"`+hashOf(nil)+`"` {
		t.Errorf("empty file: %d, %d bytes, %q", res.StatusCode, len(body), res.Header.Get("ETag"))
	}
}

func TestDownloadRefusals(t *testing.T) {
	e := newEnv(t)
	f := e.upload(keyA, "a.txt", []byte("tenant A's"))
	pend := e.create(keyA, "p.txt", []byte("not yet")).Rec
	failed := e.create(keyA, "f.txt", []byte("declared"))
	e.put(failed.UploadURL, []byte("other bytes"))

	res, body := e.download("GET", keyB, f.ID, nil)
	wantError(t, "another tenant's file", res, body, http.StatusNotFound, "file_not_found")
	res, body = e.download("GET", keyA, "no-such-id", nil)
	wantError(t, "unknown id", res, body, http.StatusNotFound, "file_not_found")
	res, body = e.download("GET", "", f.ID, nil)
	wantError(t, "no key", res, body, http.StatusUnauthorized, "unauthorized")
	res, body = e.download("GET", keyA, pend.ID, nil)
	wantError(t, "pending file", res, body, http.StatusConflict, "file_not_uploaded")
	res, body = e.download("GET", keyA, failed.Rec.ID, nil)
	wantError(t, "failed file", res, body, http.StatusConflict, "file_not_uploaded")

	e.meta.down.Store(true)
	res, body = e.download("GET", keyA, f.ID, nil)
	wantError(t, "metadata store down", res, body, http.StatusServiceUnavailable, "unavailable")
	e.meta.down.Store(false)
	e.blobs.down.Store(true)
	res, body = e.download("GET", keyA, f.ID, nil)
	wantError(t, "blob store down", res, body, http.StatusServiceUnavailable, "unavailable")
	e.blobs.down.Store(false)

	for name := range e.storedFiles() {
		if err := os.Remove(filepath.Join(e.blobDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	res, body = e.download("GET", keyA, f.ID, nil)
	wantError(t, "content lost from the store", res, body, http.StatusInternalServerError, "content_missing")
}
