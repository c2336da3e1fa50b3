package server

import (
	"net/http"
	"strings"
	"testing"
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
		if status, body := direct.put(direct.urls(id, old.UploadID, refs[0])[0], parts[0]); status != http.StatusOK {
			t.Fatalf("PUT part 1 straight to S3: %d %s", status, body)
		}
		// The relaying server starts an upload of its own, chained.
		up, status := relay.start(id, int64(len(content)), partSize)
		if status != http.StatusCreated || up.UploadID == old.UploadID {
			t.Fatalf("start on the relaying server = %d %+v: want a new upload, not %s", status, up, old.UploadID)
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
		// start, gets its relayed upload back, with part 1 held.
		again, status := direct.start(id, int64(len(content)), partSize)
		if status != http.StatusOK || again.UploadID != up.UploadID || len(again.Parts) != 1 {
			t.Fatalf("start on the direct server = %d %+v: want upload %s resumed, part 1 held", status, again, up.UploadID)
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
