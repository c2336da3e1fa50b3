package perseus

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDownloadNeverContinuesThroughALink: a partial file that is a link
// (which another user could leave in a shared directory) is refused before
// anything is fetched or written, and what it points at is untouched.
func TestDownloadNeverContinuesThroughALink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, PartialName("file-1"))); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(WithHost("http://127.0.0.1:1"), WithAPIKey("k"), WithRetry(RetryPolicy{}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.File.DownloadFileTo(context.Background(), "file-1", filepath.Join(dir, "out"))
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("download through a link as its partial file: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Fatalf("the link's target was changed: %q", b)
	}
}
