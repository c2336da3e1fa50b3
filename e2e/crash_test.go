package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
)

// TestCrashConsistencyUnderSIGKILL kills the server with SIGKILL at random
// moments while many uploads run, restarts it on the same address, and then
// checks that every uploaded file's stored bytes hash to its sourceHash,
// that nothing half-written is visible, and that every interrupted upload
// can be retried to completion.
func TestCrashConsistencyUnderSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the server several times")
	}
	data, work := t.TempDir(), t.TempDir()
	addr := freeAddr(t)
	srv := startServerAt(t, data, addr)
	key := srv.Key

	const files = 96
	paths := make([]string, files)
	hashes := make([]string, files)
	for i := range files {
		paths[i], hashes[i] = writeRandom(t, work, fmt.Sprintf("f%02d.bin", i), 64<<10+rand.IntN(2<<20))
	}
	c, _ := sdk(t, srv.URL, key)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var interrupted atomic.Int64
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < files; i += 12 {
				if ctx.Err() != nil {
					return
				}
				if _, err := c.File.UploadFile(ctx, paths[i]); err != nil {
					interrupted.Add(1) // expected while the server is down
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range 4 {
		time.Sleep(time.Duration(20+rng.IntN(130)) * time.Millisecond)
		srv.kill(t)
		t.Logf("round %d: SIGKILL", round)
		srv = startServerAt(t, data, addr)
	}
	cancel()
	wg.Wait()
	if interrupted.Load() == 0 {
		t.Fatal("no upload was interrupted: the kills came too late to test anything")
	}

	// Nothing half-written: every stored object hashes to the hash in its path.
	stored := checkStoredContent(t, data)

	// Every interrupted upload can be retried to completion.
	c, _ = sdk(t, srv.URL, key)
	for i, p := range paths {
		f, err := c.File.UploadFile(context.Background(), p)
		if err != nil {
			t.Fatalf("retrying %s after the crashes: %v", p, err)
		}
		if f.Status != perseus.StatusUploaded || f.SourceHash != hashes[i] {
			t.Fatalf("after retry %s is %+v", p, f)
		}
	}
	all, err := c.File.FindFiles(context.Background(), perseus.FindQuery{SourceHashes: hashes})
	if err != nil || len(all) != files {
		t.Fatalf("find after retries: %d files, %v; want %d (one record per content)", len(all), err, files)
	}
	stored = checkStoredContent(t, data)
	for _, f := range all {
		if stored[f.ID] != f.SourceHash {
			t.Errorf("uploaded file %s has no verified content stored", f.ID)
		}
	}
	t.Logf("%d files, %d uploads interrupted, all uploaded and verified after 4 SIGKILLs", len(all), interrupted.Load())
}

// checkStoredContent hashes every stored content object and fails on any
// whose bytes do not match the hash in its key; it returns id → hash.
func checkStoredContent(t *testing.T, data string) map[string]string {
	t.Helper()
	out := map[string]string{}
	root := filepath.Join(data, "blobs", "objects", "files")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(filepath.ToSlash(rel), "/") // tenant/ab/hash/id
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("read %s: %v", p, err)
			return nil
		}
		sum := sha256.Sum256(b)
		if len(parts) != 4 || hex.EncodeToString(sum[:]) != parts[2] {
			t.Errorf("stored object %s does not hash to the hash in its key (half-written?)", rel)
			return nil
		}
		out[parts[3]] = parts[2]
		return nil
	})
	return out
}
