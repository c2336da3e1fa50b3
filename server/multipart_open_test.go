package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// openEnvs runs fn against the embedded default (parts through this
// server) and S3 (parts straight to the store), each with the smallest
// part size it takes.
func openEnvs(t *testing.T, fn func(t *testing.T, e *testEnv, part int), tweak ...func(*Config)) {
	t.Run("embedded", func(t *testing.T) {
		fn(t, newEnv(t, append([]func(*Config){func(c *Config) { c.MinPartSize = 1024 }}, tweak...)...), 1024)
	})
	t.Run("s3", func(t *testing.T) {
		fn(t, newS3Env(t, tweak...).testEnv, 5<<20)
	})
}

// openParts begins an open upload of content in parts of part bytes and
// sends every part (each named by its own SHA-256), and returns the file
// id and the upload's path.
func openParts(t *testing.T, e *testEnv, content []byte, part int) (id, base string) {
	t.Helper()
	r := e.call("POST", "/api/v0/file/multipart", keyA, map[string]int{"size": len(content), "partSize": part})
	var up struct {
		UploadID, FileID string
	}
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &up) != nil || up.FileID == "" {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	base = "/api/v0/file/" + up.FileID + "/multipart/" + up.UploadID
	for n, off := 1, 0; off < len(content); n, off = n+1, off+part {
		b := content[off:min(off+part, len(content))]
		u := e.call("POST", base+"/parts", keyA, map[string]any{"parts": []map[string]any{{"partNumber": n, "sha256": hashOf(b)}}})
		var urls mpURLs
		if u.status != http.StatusOK || json.Unmarshal(u.body, &urls) != nil || len(urls.Parts) != 1 {
			t.Fatalf("part %d URL: %d %s", n, u.status, u.body)
		}
		req, _ := http.NewRequest("PUT", urls.Parts[0].URL, bytes.NewReader(b))
		for k, v := range urls.Parts[0].Headers {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("part %d: %d", n, res.StatusCode)
		}
	}
	return up.FileID, base
}

func TestOpenUploadRecordsTheFileWhenItCompletes(t *testing.T) {
	openEnvs(t, func(t *testing.T, e *testEnv, part int) {
		content := bytes.Repeat([]byte("open upload "), 2*part/12+50)
		id, base := openParts(t, e, content, part)
		if r := e.call("GET", "/api/v0/file/"+id, keyA, nil); r.status != http.StatusNotFound {
			t.Errorf("the file before its upload completes: %d %s, want 404: no record yet", r.status, r.body)
		}
		if r := e.call("GET", "/api/v0/file/"+id+"/multipart", keyA, nil); r.status != http.StatusOK {
			t.Errorf("the open upload, to resume: %d %s", r.status, r.body)
		}
		r := e.call("POST", base+"/complete", keyA, map[string]string{"name": "dir/open.bin", "sha256": hashOf(content)})
		if r.status != http.StatusOK || r.ID != id || r.Status != "uploaded" || r.SourceHash != hashOf(content) || r.Name != "dir/open.bin" {
			t.Fatalf("complete: %d %s", r.status, r.body)
		}
		if b := e.content(keyA, id); !bytes.Equal(b, content) {
			t.Errorf("download: %d bytes, want the %d uploaded", len(b), len(content))
		}
		if got := e.find(keyA, nil, []string{hashOf(content)}); len(got) != 1 || got[0].ID != id {
			t.Errorf("find by hash: %+v", got)
		}
		// Completing again (a lost answer) gives the same verdict.
		if r := e.call("POST", base+"/complete", keyA, map[string]string{"name": "dir/open.bin", "sha256": hashOf(content)}); r.status != http.StatusOK || r.ID != id {
			t.Errorf("complete again: %d %s", r.status, r.body)
		}
		if r := e.call("DELETE", "/api/v0/file/"+id, keyA, nil); r.status != http.StatusNoContent {
			t.Errorf("delete: %d %s", r.status, r.body)
		}
	})
}

func TestOpenUploadOfAWrongHashFailsAndKeepsNothing(t *testing.T) {
	openEnvs(t, func(t *testing.T, e *testEnv, part int) {
		content := bytes.Repeat([]byte("not what it says "), 2*part/17+3)
		id, base := openParts(t, e, content, part)
		r := e.call("POST", base+"/complete", keyA, map[string]string{"name": "lie.bin", "sha256": hashOf([]byte("something else"))})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("complete with another hash: %d %s, want 422", r.status, r.body)
		}
		if r := e.call("GET", "/api/v0/file/"+id, keyA, nil); r.status != http.StatusOK || r.Status != "failed" {
			t.Errorf("the file: %d %s, want failed", r.status, r.body)
		}
		if res, _ := e.download("GET", keyA, id, nil); res.StatusCode == http.StatusOK {
			t.Error("the content of a failed file is served")
		}
	})
}

func TestOpenUploadIdsAreBoundToTheirFileAndTenant(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MinPartSize = 1024 })
	content := bytes.Repeat([]byte("x"), 3000)
	id, base := openParts(t, e, content, 1024)
	other := e.create(keyA, "other.txt", []byte("other")).Rec // pending
	upload := base[len("/api/v0/file/"+id+"/multipart/"):]
	for _, c := range []struct{ what, path, key string }{
		{"another file's id", "/api/v0/file/" + other.ID + "/multipart/" + upload + "/complete", keyA},
		{"another tenant", base + "/complete", keyB},
		{"a made-up id", "/api/v0/file/01a23000-0000-7000-8000-000000000000/multipart/" + upload + "/complete", keyA},
	} {
		r := e.call("POST", c.path, c.key, map[string]string{"name": "x", "sha256": hashOf(content)})
		if r.status/100 == 2 || r.status == http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want a refusal", c.what, r.status, r.body)
		}
	}
	// Aborted, it is gone.
	if r := e.call("DELETE", base, keyA, nil); r.status != http.StatusNoContent {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	if r := e.call("POST", base+"/complete", keyA, map[string]string{"name": "x", "sha256": hashOf(content)}); r.status/100 == 2 {
		t.Errorf("complete after abort: %d %s, want a refusal", r.status, r.body)
	}
}

func TestOpenUploadOutlivesTheOrphanSweep(t *testing.T) {
	// An open upload has no record until it completes: the sweep of
	// objects without records must leave it (its marker, on S3) alone.
	openEnvs(t, func(t *testing.T, e *testEnv, part int) {
		content := bytes.Repeat([]byte("swept? "), part/7+99)
		id, base := openParts(t, e, content, part)
		time.Sleep(10 * time.Millisecond)
		if _, err := e.srv.core.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if r := e.call("GET", "/api/v0/file/"+id+"/multipart", keyA, nil); r.status != http.StatusOK {
			t.Fatalf("the open upload after a sweep: %d %s", r.status, r.body)
		}
		if r := e.call("POST", base+"/complete", keyA, map[string]string{"name": "kept.bin", "sha256": hashOf(content)}); r.status != http.StatusOK || r.Status != "uploaded" {
			t.Errorf("complete after a sweep: %d %s", r.status, r.body)
		}
	}, func(c *Config) { c.OrphanGrace = time.Nanosecond })
}

func TestOpenUploadCompleteWithPartsMissingRecordsNothing(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MinPartSize = 1024 })
	content := bytes.Repeat([]byte("y"), 3000)
	r := e.call("POST", "/api/v0/file/multipart", keyA, map[string]int{"size": len(content), "partSize": 1024})
	var up struct{ UploadID, FileID string }
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &up) != nil {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	base := "/api/v0/file/" + up.FileID + "/multipart/" + up.UploadID
	if r := e.call("POST", base+"/complete", keyA, map[string]string{"name": "x", "sha256": hashOf(content)}); r.status != http.StatusBadRequest || r.Code != "parts_missing" {
		t.Fatalf("complete before any part: %d %s, want 400 parts_missing", r.status, r.body)
	}
	if r := e.call("GET", "/api/v0/file/"+up.FileID, keyA, nil); r.status != http.StatusNotFound {
		t.Errorf("the file after a complete that could not finish: %d %s, want 404: no record", r.status, r.body)
	}
}

func TestOpenUploadsCountAgainstTheFilesQuota(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MinPartSize, c.QuotaFiles = 1024, 2 })
	content := bytes.Repeat([]byte("z"), 3000)
	openParts(t, e, content, 1024)
	openParts(t, e, append(content, 'x'), 1024) // a second open upload with parts: the quota is full
	r := e.call("POST", "/api/v0/file/multipart", keyA, map[string]int{"size": 5000, "partSize": 1024})
	if r.status != http.StatusInsufficientStorage || r.Code != "quota_exceeded" {
		t.Errorf("a third open upload at a quota of 2 files: %d %s, want 507 quota_exceeded", r.status, r.body)
	}
}
