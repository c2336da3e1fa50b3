package sdktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
)

// TestDownloadURLServesTheContentWithoutTheKey: on both backends the URL
// DownloadURL returns serves the file's bytes to a plain GET, with no
// Authorization header, as an attachment under its name, until a
// quarter of an hour from now; a pending file and an unknown id are the
// SDK's sentinels.
func TestDownloadURLServesTheContentWithoutTheKey(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.client(nil)
		content := make([]byte, 256<<10+5)
		rand.Read(content)
		f := uploadBytes(t, c, "url.bin", content)
		if f.Status != perseus.StatusUploaded {
			var err error
			if f, err = c.File.WaitForFileUpload(ctx, f.ID); err != nil {
				t.Fatal(err)
			}
		}
		d, err := c.File.DownloadURL(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		if left := time.Until(d.ExpiresAt); left < 14*time.Minute || left > 15*time.Minute+time.Second {
			t.Errorf("ExpiresAt %s is %s away, want 15m", d.ExpiresAt, left)
		}
		if strings.Contains(d.URL, envKey) {
			t.Fatal("the URL carries the API key")
		}
		res, err := http.Get(d.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
			t.Fatalf("GET the download URL: %d, %d bytes, match %v", res.StatusCode, len(body), bytes.Equal(body, content))
		}
		if _, p, err := mime.ParseMediaType(res.Header.Get("Content-Disposition")); err != nil || p["filename"] != "url.bin" {
			t.Errorf("Content-Disposition %q", res.Header.Get("Content-Disposition"))
		}

		pending, err := c.File.CreateFile(ctx, "pending.bin", strings.Repeat("ab", 32))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.File.DownloadURL(ctx, pending.File.ID); !errors.Is(err, perseus.ErrConflict) {
			t.Errorf("a pending file: %v, want ErrConflict", err)
		}
		if _, err := c.File.DownloadURL(ctx, "no-such-file"); !errors.Is(err, perseus.ErrNotFound) {
			t.Errorf("an unknown id: %v, want ErrNotFound", err)
		}
	})
}
