package sdktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/server"
	"github.com/perseus-go/perseus/store/meta/postgres"
)

// metaBackends runs fn against a server over each metadata store: SQLite,
// and PostgreSQL (PERSEUS_TEST_POSTGRES_URL) in a schema of its own; and,
// over SQLite, with content on S3, where upload URLs are the store's.
func metaBackends(t *testing.T, fn func(t *testing.T, e *env), tweak ...func(*server.Config)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newEnv(t, nil, tweak...)) })
	t.Run("postgres", func(t *testing.T) {
		pg, err := postgres.Open(context.Background(), testenv.PostgresSchemaURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Close() })
		fn(t, newEnv(t, nil, append([]func(*server.Config){func(c *server.Config) { c.Meta = pg }}, tweak...)...))
	})
	t.Run("s3", func(t *testing.T) { fn(t, newEnv(t, openS3(t), tweak...)) })
}

// smallFiles writes n files of distinct content into a directory and
// returns their paths and contents.
func smallFiles(t *testing.T, n int) ([]string, [][]byte) {
	dir := t.TempDir()
	var paths []string
	var contents [][]byte
	for i := range n {
		b := fmt.Appendf(nil, "small file %d of a batch", i)
		p := filepath.Join(dir, fmt.Sprintf("f%03d.txt", i))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths, contents = append(paths, p), append(contents, b)
	}
	return paths, contents
}

// TestUploadFiles_createsSmallFilesInBatches: many small files are created
// in batch creates, not one create each, and every one ends uploaded with
// its content; a file the server had is answered by the batch, nothing sent.
func TestUploadFiles_createsSmallFilesInBatches(t *testing.T) {
	metaBackends(t, func(t *testing.T, e *env) {
		paths, contents := smallFiles(t, 30)
		c := e.client(nil)
		res := c.File.UploadFiles(t.Context(), paths, perseus.WithConcurrency(4))
		for i, r := range res {
			if r.Err != nil || r.File == nil || r.Known {
				t.Fatalf("%s: %+v", filepath.Base(paths[i]), r)
			}
			f, err := c.File.WaitForFileUpload(t.Context(), r.File.ID)
			if err != nil || f.Name != filepath.Base(paths[i]) || !bytes.Equal(e.stored(f), contents[i]) {
				t.Errorf("%s: %+v, %v", filepath.Base(paths[i]), f, err)
			}
		}
		if singles, batches := e.count("POST /api/v0/file"), e.count("POST /api/v0/file/batch"); singles != 0 || batches < 1 || batches > 2 {
			t.Errorf("%d single creates, %d batch creates for 30 small files; want none and 1 or 2", singles, batches)
		}
	})
}

// TestUploadFiles_holdsTheFilesQuotaInBatches: with room for 5 files, 8
// small files uploaded at once give 5 uploaded files and, for the others,
// the server's 507 quota_exceeded, as clear as a single create's.
func TestUploadFiles_holdsTheFilesQuotaInBatches(t *testing.T) {
	metaBackends(t, func(t *testing.T, e *env) {
		paths, _ := smallFiles(t, 8)
		res := e.client(nil).File.UploadFiles(t.Context(), paths, perseus.WithConcurrency(8))
		var ok, over int
		for _, r := range res {
			var ae *perseus.APIError
			switch {
			case r.Err == nil:
				ok++
			case errors.As(r.Err, &ae) && ae.StatusCode == 507 && ae.Code == "quota_exceeded" && strings.Contains(ae.Message, "your quota is 5"):
				over++
			default:
				t.Errorf("%s: %v", filepath.Base(r.Path), r.Err)
			}
		}
		if ok != 5 || over != 3 {
			t.Errorf("%d uploaded, %d over the quota; want 5 and 3", ok, over)
		}
	}, func(c *server.Config) { c.QuotaFiles = 5 })
}

// TestCreateFiles_answersEachFileAsCreateFileWould, against a real server.
func TestCreateFiles_answersEachFileAsCreateFileWould(t *testing.T) {
	metaBackends(t, func(t *testing.T, e *env) {
		c := e.client(nil)
		known, knownContent := writeRandom(t, "known.bin", 100)
		had, err := c.File.UploadFile(t.Context(), known)
		if err == nil {
			had, err = c.File.WaitForFileUpload(t.Context(), had.ID) // on S3, verified after the PUT
		}
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.File.CreateFiles(t.Context(), []perseus.NewFile{
			{Name: "new.txt", SourceHash: sum([]byte("new"))},
			{Name: "known again", SourceHash: sum(knownContent)},
			{Name: "a//b", SourceHash: sum([]byte("x"))},
		})
		if err != nil || len(res) != 3 {
			t.Fatalf("CreateFiles: %d results, %v", len(res), err)
		}
		if r := res[0]; r.Err != nil || r.File.Status != perseus.StatusPending || r.UploadURL == "" {
			t.Errorf("new content: %+v", r)
		}
		if r := res[1]; !errors.Is(r.Err, perseus.ErrConflict) || r.File == nil || r.File.ID != had.ID {
			t.Errorf("uploaded content: %+v, want ErrConflict and the file %s", r, had.ID)
		}
		var ae *perseus.APIError
		_, single := c.File.CreateFile(t.Context(), "a//b", sum([]byte("x")))
		if r := res[2]; !errors.As(r.Err, &ae) || ae.Code != "invalid_name" || !errors.As(single, new(*perseus.APIError)) ||
			ae.Message != single.(*perseus.APIError).Message {
			t.Errorf("invalid name: %v; a single create says %v", r.Err, single)
		}
	})
}
