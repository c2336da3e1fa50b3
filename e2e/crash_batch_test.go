package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/perseus-go/perseus"
)

// TestBatchUploadSurvivesSIGKILLRightAfterItsAnswer uploads many small
// files the way the CLI does (UploadFiles: batch creates, then batch
// uploads that the server makes durable together), kills the server with
// SIGKILL the moment the last answer arrived, restarts it on the same
// data, and finds every file answered uploaded still uploaded, its bytes
// stored and hashing to its sourceHash. (A SIGKILL keeps the kernel's page
// cache: this holds the server to answering only after its own work is
// done; surviving a power loss rests on the fsyncs before the answer,
// which store/blob/local's TestCommitAll… checks.)
func TestBatchUploadSurvivesSIGKILLRightAfterItsAnswer(t *testing.T) {
	data, work := t.TempDir(), t.TempDir()
	addr := freeAddr(t)
	srv := startServerAt(t, data, addr)
	const files = 120
	paths := make([]string, files)
	hashes := map[string]string{}
	for i := range files {
		var h string
		paths[i], h = writeRandom(t, work, fmt.Sprintf("f%03d.bin", i), 4<<10+rand.IntN(256<<10))
		hashes[paths[i]] = h
	}
	c, pc := sdk(t, srv.URL, srv.Key)
	res := c.File.UploadFiles(context.Background(), paths, perseus.WithConcurrency(8))
	srv.kill(t)
	var ids []string
	for _, r := range res {
		if r.Err != nil || r.File == nil || r.File.Status != perseus.StatusUploaded {
			t.Fatalf("%s: %+v", r.Path, r)
		}
		ids = append(ids, r.File.ID)
	}
	if n := pc.n.Load(); n != 0 {
		t.Errorf("%d PUTs: the small files did not go in batch uploads", n)
	}

	srv = startServerAt(t, data, addr)
	c, _ = sdk(t, srv.URL, srv.Key)
	found, err := c.File.FindFiles(context.Background(), perseus.FindQuery{IDs: ids})
	if err != nil || len(found) != files {
		t.Fatalf("find after the restart: %d files, %v; want %d", len(found), err, files)
	}
	stored := checkStoredContent(t, data)
	for _, f := range found {
		if f.Status != perseus.StatusUploaded || stored[f.ID] != f.SourceHash {
			t.Errorf("%s (%s) after the restart: %s, stored content hashing to %q", f.Name, f.ID, f.Status, stored[f.ID])
		}
	}
}
