package server

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"testing"

	perseus "github.com/perseus-go/perseus"
)

// An upload keeps the way it began when --s3-parts changes, or differs
// between replicas: a direct one is not resumed by a relaying server,
// whose new upload is relayed, but can still be finished there with its
// parts straight to S3; a relayed one is finished through a direct server.
func TestMultipartOnS3KeepsTheWayItBegan(t *testing.T) {
	const partSize = 5 << 20
	t.Run("direct, then relayed", func(t *testing.T) {
		e := newS3Env(t, directParts(true))
		direct, relay := newMP(t, e.url), newMP(t, e.replica(directParts(false)))
		content := randomBytes(partSize + 9)
		id := e.pendingFile(content).Rec.ID
		parts, refs := split(content, partSize)
		old, _ := direct.start(id, int64(len(content)), partSize)
		if old.ChainedParts {
			t.Fatalf("start on the direct server: %+v, want chainedParts false", old)
		}
		if status, body := direct.put(direct.urls(id, old.UploadID, refs[0])[0], parts[0]); status != http.StatusOK {
			t.Fatalf("PUT part 1 straight to S3: %d %s", status, body)
		}
		// The relaying server starts an upload of its own, chained.
		up, status := relay.start(id, int64(len(content)), partSize)
		if status != http.StatusCreated || up.UploadID == old.UploadID || !up.ChainedParts {
			t.Fatalf("start on the relaying server = %d %+v: want a new upload, not %s, with chainedParts", status, up, old.UploadID)
		}
		// The old one takes no chained parts, and says why.
		_, chained := chain(t, content, partSize)
		status, body := relay.do("POST", "/api/v0/file/"+id+"/multipart/"+old.UploadID+"/parts", partsRequest{chained}, nil)
		if status != http.StatusBadRequest || !strings.Contains(body, "go straight to the store") {
			t.Fatalf("chained parts for the direct upload: %d %s, want 400 saying its parts go straight to the store", status, body)
		}
		// It goes on straight to S3, and completes with a read-back.
		u := relay.urls(id, old.UploadID, refs[1])[0]
		if strings.HasPrefix(u.URL, e.url) || u.Headers["x-amz-checksum-sha256"] == "" {
			t.Fatalf("part URL of the direct upload from the relaying server: %+v, want a presigned S3 URL", u)
		}
		if status, body := relay.put(u, parts[1]); status != http.StatusOK {
			t.Fatalf("PUT part 2 straight to S3: %d %s", status, body)
		}
		if f, status, body := relay.complete(id, old.UploadID, refs); status != http.StatusOK || f.Status != "uploaded" {
			t.Fatalf("complete of the direct upload on the relaying server: %d %s", status, body)
		}
		e.wantOnlyContent(id, content) // the relaying server's own upload went with it
	})
	t.Run("relayed, then direct", func(t *testing.T) {
		e := newS3Env(t, directParts(false))
		relay, direct := newMP(t, e.url), newMP(t, e.replica(directParts(true)))
		content := randomBytes(partSize + 9)
		id := e.pendingFile(content).Rec.ID
		parts, refs := chain(t, content, partSize)
		up, _ := relay.start(id, int64(len(content)), partSize)
		if status, body := relay.put(relay.urls(id, up.UploadID, refs[0])[0], parts[0]); status != http.StatusOK {
			t.Fatalf("PUT part 1 through the relaying server: %d %s", status, body)
		}
		// A client that chained its parts, asking the direct server to
		// start, gets its relayed upload back, with part 1 held, and told
		// that it takes chained parts (the direct server's limits say not).
		again, status := direct.start(id, int64(len(content)), partSize)
		if status != http.StatusOK || again.UploadID != up.UploadID || len(again.Parts) != 1 || !again.ChainedParts {
			t.Fatalf("start on the direct server = %d %+v: want upload %s resumed, part 1 held, chainedParts", status, again, up.UploadID)
		}
		// The direct server hands out no URL of the store for it: its parts
		// still go through a server, chained.
		u := direct.urls(id, up.UploadID, refs[1])[0]
		if !strings.Contains(u.URL, "/upload/"+id+"/parts/") {
			t.Fatalf("part URL of the relayed upload from the direct server: %s, want one of a server", u.URL)
		}
		if status, body := direct.put(u, parts[1]); status != http.StatusOK {
			t.Fatalf("PUT part 2 through the direct server: %d %s", status, body)
		}
		if f, status, body := direct.complete(id, up.UploadID, refs); status != http.StatusOK || f.Status != "uploaded" {
			t.Fatalf("complete of the relayed upload on the direct server: %d %s", status, body)
		}
		e.wantOnlyContent(id, content)
	})
}

// While replicas differ in --s3-parts, the SDK chains its parts as the
// upload says, not as /api/v0/limits said: here the limits come from a
// relaying replica (chainedParts) and the upload begins on a direct one,
// whose parts go straight to S3 by their own SHA-256. Before the start
// answer said so, this was refused (400 invalid_parts).
func TestSDKFollowsTheUploadsWayOverTheLimits(t *testing.T) {
	const partSize = 5 << 20
	e := newS3Env(t, directParts(false))
	relay, direct := e.url, e.replica(directParts(true))
	toRelay, toDirect := mustParseURL(t, relay), mustParseURL(t, direct)
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to := toDirect
		if r.URL.Path == "/api/v0/limits" {
			to = toRelay
		}
		httputil.NewSingleHostReverseProxy(to).ServeHTTP(w, r)
	}))
	t.Cleanup(lb.Close)
	client, err := perseus.NewClient(perseus.WithHost(lb.URL), perseus.WithAPIKey(keyA))
	if err != nil {
		t.Fatal(err)
	}
	if l, err := client.File.Limits(context.Background()); err != nil || !l.ChainedParts {
		t.Fatalf("limits through the balancer = %+v, %v: want the relaying replica's chainedParts", l, err)
	}
	for _, hashFirst := range []bool{false, true} { // one pass (the default); hashed first
		size := 2*partSize + 9
		if hashFirst {
			size += 64 // a size of its own: one pass with a size the tenant has is told to hash first
		}
		content := randomBytes(size)
		path := filepath.Join(t.TempDir(), "f.bin")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := client.File.UploadFile(context.Background(), path, perseus.WithPartSize(partSize),
			perseus.WithHashFirst(hashFirst), perseus.WithResumeDir(t.TempDir()))
		if err != nil {
			t.Fatalf("hash first %v: upload through a direct replica with a relaying replica's limits: %v", hashFirst, err)
		}
		if f.Status != perseus.StatusUploaded || f.SourceHash != hashOf(content) {
			t.Fatalf("hash first %v: upload = %+v, want uploaded with sha256 %s", hashFirst, f, hashOf(content))
		}
		var got bytes.Buffer
		if _, err := client.File.DownloadFile(context.Background(), f.ID, &got); err != nil || !bytes.Equal(got.Bytes(), content) {
			t.Fatalf("hash first %v: download of the upload: %d bytes, %v; want the %d uploaded", hashFirst, got.Len(), err, len(content))
		}
	}
}
