// Package backend opens the metadata and blob stores named by --db and --blobs URLs.
package backend

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/blob/local"
	s3blob "github.com/perseus-go/perseus/store/blob/s3"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/postgres"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// DefaultDB and DefaultBlobs are the embedded default's URLs, relative to the data dir.
func DefaultDB(dataDir string) string    { return "sqlite://" + filepath.Join(dataDir, "meta.db") }
func DefaultBlobs(dataDir string) string { return "file://" + filepath.Join(dataDir, "blobs") }

// OpenMeta opens sqlite:///PATH or postgres://… .
func OpenMeta(ctx context.Context, raw string) (meta.Store, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		p := strings.TrimPrefix(raw, "sqlite://")
		if p == "" {
			return nil, fmt.Errorf("--db %q: give a file path, e.g. sqlite:///var/lib/perseus/meta.db", raw)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, fmt.Errorf("--db %q: %w", raw, err)
		}
		return sqlite.Open(ctx, p)
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		s, err := postgres.Open(ctx, raw)
		if err != nil {
			return nil, fmt.Errorf("--db %s: %s", Redact(raw), OneLine(err)) // the password hidden
		}
		return s, nil
	}
	return nil, fmt.Errorf("--db %q: use sqlite:///PATH or postgres://USER@HOST:PORT/DB", Redact(raw))
}

// OpenBlobs opens file:///PATH or s3://BUCKET?endpoint=…&region=… .
func OpenBlobs(ctx context.Context, raw string) (blob.Store, error) {
	switch {
	case strings.HasPrefix(raw, "file://"):
		p := strings.TrimPrefix(raw, "file://")
		if p == "" {
			return nil, fmt.Errorf("--blobs %q: give a directory, e.g. file:///var/lib/perseus/blobs", raw)
		}
		return local.Open(p)
	case strings.HasPrefix(raw, "s3://"):
		return s3blob.Open(ctx, raw)
	}
	return nil, fmt.Errorf("--blobs %q: use file:///PATH or s3://BUCKET?endpoint=http://HOST:PORT&region=REGION", raw)
}

// Redact hides passwords in a URL for logs and error messages: in its
// user information and in password or sslpassword query parameters.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

// OneLine folds a multi-line error message (pgx lists every address it
// tried on a line of its own) into one line.
func OneLine(err error) string {
	msg := strings.ReplaceAll(err.Error(), ":\n", ": ")
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " ")
}
