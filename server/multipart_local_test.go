package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob/local"
)

// On the local store a multipart upload is written once: its parts go into
// one file at their offsets, and completing renames that file into place.
func TestMultipartOnLocalStoreRenamesItsAssemblyIntoPlace(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	content := randomBytes(10<<10 + 5)
	c := e.pendingFile(content)
	upload, refs := sendAll(t, m, c.Rec.ID, content, 4<<10)
	data := filepath.Join(e.blobDir, "assemblies", partsDir(tenantA, c.Rec.ID)+upload, "data")
	before, err := os.Stat(data)
	if err != nil {
		t.Fatalf("the upload's assembly: %v", err)
	}
	if got, _ := os.ReadFile(data); !bytes.Equal(got, content) {
		t.Fatal("the assembly does not hold the parts at their offsets")
	}
	if f, status, body := m.complete(c.Rec.ID, upload, refs); status != http.StatusOK || f.Status != "uploaded" {
		t.Fatalf("complete: %d %s", status, body)
	}
	after, err := os.Stat(filepath.Join(e.blobDir, "objects", contentKey(tenantA, hashOf(content), c.Rec.ID)))
	if err != nil || !os.SameFile(before, after) {
		t.Fatalf("the content (%v) is not the assembly's file renamed: it was written again", err)
	}
	if stored := e.storedFiles(); len(stored) != 1 {
		t.Errorf("after complete the store holds %d files, want only the content", len(stored))
	}
}

func TestMultipartOnLocalStoreResumesAfterARestart(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	content := randomBytes(10<<10 + 5)
	parts, refs := split(content, 4<<10)
	c := e.pendingFile(content)
	up, _ := m.start(c.Rec.ID, int64(len(content)), 4<<10)
	urls := m.urls(c.Rec.ID, up.UploadID, refs[0], refs[2])
	for i, n := range []int{0, 2} {
		if status, body := m.put(urls[i], parts[n]); status != http.StatusOK {
			t.Fatalf("PUT part %d: %d %s", n+1, status, body)
		}
	}

	// The server restarts over the same directory and database.
	bs, err := local.Open(e.blobDir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Meta: e.meta, Blobs: bs, SigningKey: testSigningKey,
		StaticKeys: map[string]string{keyA: tenantA}, MinPartSize: 1 << 10,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	m = newMP(t, ts.URL)
	again, status := m.start(c.Rec.ID, int64(len(content)), 4<<10)
	if status != http.StatusOK || again.UploadID != up.UploadID || len(again.Parts) != 2 ||
		again.Parts[0].SHA256 != refs[0].SHA256 || again.Parts[1].PartNumber != 3 || again.Parts[1].SHA256 != refs[2].SHA256 {
		t.Fatalf("start after a restart = %d %+v, want 200 listing parts 1 and 3 with their SHA-256", status, again)
	}
	if status, body := m.put(m.urls(c.Rec.ID, up.UploadID, refs[1])[0], parts[1]); status != http.StatusOK {
		t.Fatalf("PUT part 2: %d %s", status, body)
	}
	if f, status, body := m.complete(c.Rec.ID, up.UploadID, refs); status != http.StatusOK || f.Status != "uploaded" {
		t.Fatalf("complete: %d %s", status, body)
	}
	if got, _ := os.ReadFile(filepath.Join(e.blobDir, "objects", contentKey(tenantA, hashOf(content), c.Rec.ID))); !bytes.Equal(got, content) {
		t.Fatal("the content differs from what was sent")
	}
}

// A delete while the upload is being completed leaves neither a record
// without content nor anything of the upload.
func TestMultipartOnLocalStoreDeleteDuringCompleteLeavesNothing(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	for round := range 6 {
		content := randomBytes(2<<20 + 7)
		c := e.pendingFile(content)
		upload, refs := sendAll(t, m, c.Rec.ID, content, 64<<10)
		done := make(chan int)
		go func() { _, status, _ := m.complete(c.Rec.ID, upload, refs); done <- status }()
		time.Sleep(time.Duration(round) * time.Millisecond)
		if r := e.call("DELETE", "/api/v0/file/"+c.Rec.ID, keyA, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		switch status := <-done; status {
		case http.StatusOK, http.StatusGone, http.StatusNotFound:
		default:
			t.Fatalf("round %d: complete during a delete: %d", round, status)
		}
		e.wantNothingStored()
	}
}
