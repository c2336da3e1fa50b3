package sdktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perseus-go/perseus"
)

// storedObjects returns the paths of the objects under a local blob store.
func storedObjects(t *testing.T, blobDir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(blobDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	return out
}

func TestDownloadFileVerifiesAndWritesTheContent(t *testing.T) {
	url, _ := realServer(t)
	c, _ := clientFor(t, url, "key-a")
	ctx := context.Background()
	content := make([]byte, 3<<20+17)
	rand.Read(content)
	f := uploadBytes(t, c, "data.bin", content)

	var buf bytes.Buffer
	n, err := c.File.DownloadFile(ctx, f.ID, &buf)
	if err != nil || n != int64(len(content)) || !bytes.Equal(buf.Bytes(), content) {
		t.Fatalf("DownloadFile = %d, %v; %d bytes match: %v", n, err, buf.Len(), bytes.Equal(buf.Bytes(), content))
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	if n, err := c.File.DownloadFileTo(ctx, f.ID, path); err != nil || n != int64(len(content)) {
		t.Fatalf("DownloadFileTo = %d, %v", n, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
		t.Error("DownloadFileTo wrote other bytes")
	}
	// It replaces what was there, and leaves no temporary file.
	os.WriteFile(path, []byte("old"), 0o600)
	if _, err := c.File.DownloadFileTo(ctx, f.ID, path); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
		t.Error("DownloadFileTo did not replace the old file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only out.bin", len(entries))
	}

	empty := uploadBytes(t, c, "empty", nil)
	buf.Reset()
	if n, err := c.File.DownloadFile(ctx, empty.ID, &buf); err != nil || n != 0 {
		t.Errorf("empty file: %d, %v", n, err)
	}
}

func TestDownloadFileRefusesWhatItCannotVerifyOrFind(t *testing.T) {
	url, blobDir := realServer(t)
	c, _ := clientFor(t, url, "key-a")
	ctx := context.Background()
	content := []byte("the true content of the file")
	f := uploadBytes(t, c, "true.txt", content)

	other, _ := clientFor(t, url, "key-b")
	if _, err := other.File.DownloadFile(ctx, f.ID, &bytes.Buffer{}); !errors.Is(err, perseus.ErrNotFound) {
		t.Errorf("another tenant's file: %v, want ErrNotFound", err)
	}
	if _, err := c.File.DownloadFile(ctx, "no-such-id", &bytes.Buffer{}); !errors.Is(err, perseus.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
	res, err := c.File.CreateFile(ctx, "pending.txt", sha256Hex([]byte("not sent")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.File.DownloadFile(ctx, res.File.ID, &bytes.Buffer{}); !errors.Is(err, perseus.ErrConflict) {
		t.Errorf("pending file: %v, want ErrConflict", err)
	}

	// Bytes changed behind the server's back, same length: the server serves
	// them; the client must refuse them.
	objs := storedObjects(t, blobDir)
	if len(objs) != 1 {
		t.Fatalf("%d objects stored, want 1", len(objs))
	}
	if err := os.WriteFile(objs[0], []byte(strings.ToUpper(string(content))), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.File.DownloadFile(ctx, f.ID, &bytes.Buffer{}); !errors.Is(err, perseus.ErrChecksum) {
		t.Errorf("tampered content: %v, want ErrChecksum", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if _, err := c.File.DownloadFileTo(ctx, f.ID, path); !errors.Is(err, perseus.ErrChecksum) {
		t.Errorf("DownloadFileTo of tampered content: %v, want ErrChecksum", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed DownloadFileTo left %v behind", entries)
	}
	os.WriteFile(path, []byte("keep me"), 0o600)
	c.File.DownloadFileTo(ctx, f.ID, path)
	if got, _ := os.ReadFile(path); string(got) != "keep me" {
		t.Errorf("a failed DownloadFileTo changed the existing file to %q", got)
	}
}

func TestListAndDownloadSayWhenTheServerSpeaksOnlyV0(t *testing.T) {
	v0 := httptest.NewServer(http.NotFoundHandler()) // no listing or download endpoint
	t.Cleanup(v0.Close)
	c, _ := clientFor(t, v0.URL, "key")
	_, err := c.File.DownloadFile(context.Background(), "f1", &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "offers no downloads") {
		t.Errorf("download from a v0-only server: %v", err)
	}
	_, err = c.File.ListFilesPage(context.Background(), perseus.ListOptions{}, "")
	if err == nil || !strings.Contains(err.Error(), "offers no listing") {
		t.Errorf("list on a v0-only server: %v", err)
	}
}
