package perseus

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestFileBody_readsItsSectionEvenAfterTheFileIsRenamedOrRemoved: a body
// is the open file's bytes, not whatever the name holds by then.
func TestFileBody_readsItsSectionEvenAfterTheFileIsRenamedOrRemoved(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 10_000)
	for _, after := range []string{"renamed", "removed", "replaced"} {
		path := writeTemp(t, after+".bin", content)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		switch after {
		case "renamed":
			os.Rename(path, filepath.Join(filepath.Dir(path), "elsewhere.bin"))
		case "removed":
			os.Remove(path)
		case "replaced":
			os.Remove(path)
			os.WriteFile(path, bytes.Repeat([]byte("x"), len(content)), 0o600)
		}
		tr := &tracker{total: 300}
		b, err := openBody(f, 1000, 300, tr)
		if err != nil {
			t.Fatalf("%s: %v", after, err)
		}
		got, err := io.ReadAll(b)
		b.Close()
		if err != nil || !bytes.Equal(got, content[1000:1300]) {
			t.Fatalf("%s: read %q, %v; want bytes 1000-1300 of the file", after, got, err)
		}
		if tr.sent.Load() != 300 {
			t.Errorf("%s: counted %d bytes sent, want 300", after, tr.sent.Load())
		}
	}
}

// TestFileBody_undoAndSent: a failed attempt takes its bytes back; a
// successful one counts the whole body however little was looked at.
func TestFileBody_undoAndSent(t *testing.T) {
	f, err := os.Open(writeTemp(t, "b.bin", make([]byte, 1000)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := &tracker{total: 1000}
	b, _ := openBody(f, 0, 1000, tr)
	io.CopyN(io.Discard, b, 400)
	b.undo()
	b.sent() // after undo: counts nothing
	if tr.sent.Load() != 0 {
		t.Fatalf("after undo: %d counted, want 0", tr.sent.Load())
	}
	b.Close()
	b, _ = openBody(f, 0, 1000, tr)
	io.CopyN(io.Discard, b, 400)
	b.sent()
	b.Close()
	if tr.sent.Load() != 1000 {
		t.Fatalf("after sent: %d counted, want 1000", tr.sent.Load())
	}
}
