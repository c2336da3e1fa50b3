package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perseus-go/perseus"
)

// TestEmbeddedServerThroughCLIAndSDK drives upload, dedup, find, wait, delete
// and a corrupt upload against `perseus serve` on its embedded default,
// through both the CLI and the SDK, then restarts it and checks nothing
// uploaded was lost.
func TestEmbeddedServerThroughCLIAndSDK(t *testing.T) {
	data, work := t.TempDir(), t.TempDir()
	srv := startServer(t, data)
	if srv.Key == "" {
		t.Fatal("no dev API key was written to the data dir")
	}
	ctx := context.Background()

	// CLI: upload a directory (recursive) and wait.
	os.MkdirAll(filepath.Join(work, "docs", "sub"), 0o700)
	a, aHash := writeRandom(t, filepath.Join(work, "docs"), "a.bin", 3<<20)
	_, bHash := writeRandom(t, filepath.Join(work, "docs", "sub"), "b.txt", 1000)
	out, errOut, code := cli(t, srv, "file", "upload", filepath.Join(work, "docs"), "--wait", "--json", "--concurrency", "2")
	if code != 0 {
		t.Fatalf("file upload exit %d: %s", code, errOut)
	}
	byHash := map[string]perseus.File{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var f perseus.File
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		byHash[f.SourceHash] = f
	}
	if byHash[aHash].Status != perseus.StatusUploaded || byHash[bHash].Status != perseus.StatusUploaded {
		t.Fatalf("uploaded via CLI: %+v", byHash)
	}
	aID := byHash[aHash].ID

	// SDK: the same content again is the existing file, with no PUT.
	c, puts := sdk(t, srv.URL, srv.Key)
	f, err := c.File.UploadFile(ctx, a)
	if err != nil || f.ID != aID || f.Status != perseus.StatusUploaded || puts.n.Load() != 0 {
		t.Fatalf("re-upload = %+v, %v, PUTs %d; want file %s, no PUT", f, err, puts.n.Load(), aID)
	}
	// CLI dedup too: same id printed.
	out, _, code = cli(t, srv, "file", "upload", a, "--json")
	if code != 0 || !strings.Contains(out, aID) {
		t.Fatalf("CLI re-upload: exit %d, %s", code, out)
	}

	// Find by hash and id, get, wait through the CLI.
	out, _, code = cli(t, srv, "file", "find", "--hash", aHash, "--id", byHash[bHash].ID)
	if code != 0 || strings.Count(out, "uploaded") != 2 {
		t.Fatalf("file find: exit %d, %q", code, out)
	}
	if _, _, code = cli(t, srv, "file", "wait", aID); code != 0 {
		t.Fatalf("file wait on an uploaded file exited %d", code)
	}
	if _, errOut, code = cli(t, srv, "file", "get", "no-such-id"); code != 1 || errOut == "" {
		t.Fatalf("file get of an unknown id: exit %d, stderr %q; want 1 and a message", code, errOut)
	}

	// A corrupt upload: the file becomes failed, and the CLI wait says so with exit 1.
	good, goodHash := writeRandom(t, work, "good.bin", 4096)
	bad, _ := writeRandom(t, work, "bad.bin", 4096)
	res, err := c.File.CreateFile(ctx, "good.bin", goodHash)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.Open(bad)
	req, _ := http.NewRequest(http.MethodPut, res.UploadURL, body)
	resp, err := http.DefaultClient.Do(req)
	body.Close()
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(msg), "message") {
		t.Fatalf("corrupt PUT: %d %s", resp.StatusCode, msg)
	}
	if _, errOut, code = cli(t, srv, "file", "wait", res.File.ID); code != 1 || !strings.Contains(errOut, "failed") {
		t.Fatalf("wait on a failed file: exit %d, %q", code, errOut)
	}
	if _, err := c.File.WaitForFileUpload(ctx, res.File.ID); !errors.Is(err, perseus.ErrUploadFailed) {
		t.Fatalf("SDK wait on failed file: %v", err)
	}
	// The same content uploaded properly heals the record.
	healed, err := c.File.UploadFile(ctx, good)
	if err != nil || healed.ID != res.File.ID || healed.Status != perseus.StatusUploaded {
		t.Fatalf("upload after failure = %+v, %v", healed, err)
	}

	// Delete through the CLI; get then fails and the content is gone from disk.
	bID := byHash[bHash].ID
	if _, errOut, code = cli(t, srv, "file", "delete", bID); code != 0 {
		t.Fatalf("delete: %d %s", code, errOut)
	}
	if got, err := c.File.FindFile(ctx, bID); err != nil || got != nil {
		t.Fatalf("FindFile after delete = %+v, %v", got, err)
	}
	if n := countBlobs(t, data, bHash); n != 0 {
		t.Fatalf("%d content files of the deleted file remain", n)
	}

	// Restart: everything uploaded is still there, byte for byte.
	srv.stop(t)
	srv2 := startServer(t, data)
	c2, _ := sdk(t, srv2.URL, srv2.Key)
	got, err := c2.File.FindFiles(ctx, perseus.FindQuery{SourceHashes: []string{aHash, goodHash}})
	if err != nil || len(got) != 2 || got[0].Status != perseus.StatusUploaded || got[1].Status != perseus.StatusUploaded {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	for _, h := range []string{aHash, goodHash} {
		if n := countBlobs(t, data, h); n != 1 {
			t.Fatalf("after restart, %d stored copies of %s, want 1", n, h)
		}
		verifyBlob(t, data, h)
	}
}

// countBlobs counts stored files whose path names the hash, or whose bytes hash to it.
func countBlobs(t *testing.T, data, hash string) int {
	n := 0
	filepath.WalkDir(filepath.Join(data, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.Contains(p, hash) || hashOfFile(p) == hash) {
			n++ // named by the hash, or (sent before it was known: kept by id) holding it
		}
		return nil
	})
	return n
}

// hashOfFile returns the hex SHA-256 of the file at p, or "".
func hashOfFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// verifyBlob checks that the stored content for hash hashes to it.
func verifyBlob(t *testing.T, data, hash string) {
	t.Helper()
	filepath.WalkDir(filepath.Join(data, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(p, hash) {
			return nil
		}
		b, _ := os.ReadFile(p)
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != hash {
			t.Errorf("stored content %s does not hash to its sourceHash", p)
		}
		return nil
	})
}
