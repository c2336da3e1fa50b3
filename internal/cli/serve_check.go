package cli

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/perseus-go/perseus/internal/backend"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// check refuses flag values the server cannot run with, naming the flag (and
// so its variable) in one line, before anything is opened.
func (f serveFlags) check() error {
	bad := func(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }
	if f.maxSize <= 0 {
		return bad("--max-file-size %d: must be more than 0 bytes", f.maxSize)
	}
	if err := f.limits.check(); err != nil {
		return err
	}
	if err := f.webhooks.check(); err != nil {
		return err
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
		set  bool
	}{{"--verify-interval", f.verify, f.verifySet}, {"--pending-ttl", f.pendingTTL, true}, {"--sweep-interval", f.sweep, true}, {"--event-retention", f.eventRetention, true}} {
		if d.set && d.v <= 0 {
			return bad("%s %v: must be more than 0", d.flag, d.v)
		}
	}
	if t := f.s3EventsToken; t != "" && (len(t) < 16 || strings.ContainsAny(t, " \t\r\n")) {
		return bad("--s3-events-token: give a secret of 16 bytes or more without whitespace, e.g. from openssl rand -hex 32")
	}
	if f.s3Parts != "relay" && f.s3Parts != "direct" {
		return bad("--s3-parts %q: give relay (parts through this server, checked on their way) or direct (parts to presigned S3 URLs, files read back)", f.s3Parts)
	}
	if f.s3Parts == "direct" && !strings.HasPrefix(f.blobs, "s3://") {
		return bad("--s3-parts direct: only an S3 store (--blobs s3://…) takes parts straight from clients; with this store parts always come through the server")
	}
	for _, k := range f.apiKeyList {
		if k == "" || strings.ContainsAny(k, " \t\r\n") {
			return bad("--api-key %q: a key must be non-empty and contain no whitespace", k)
		}
	}
	if f.publicURL != "" {
		u, err := url.Parse(f.publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return bad("--public-url %q: give the base URL clients reach, e.g. https://files.example.com", f.publicURL)
		}
	}
	return nil
}

// pingBlobs and pingMeta check, once at start, that a store answers, so
// that a server that cannot work says so in one line instead of serving
// errors.
func pingBlobs(ctx context.Context, f serveFlags, b blob.Store) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		return fmt.Errorf("--blobs %s: the blob store does not answer: %s", backend.Redact(f.blobs), backend.OneLine(err))
	}
	return nil
}

func pingMeta(ctx context.Context, f serveFlags, m meta.Store) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := m.Ping(ctx); err != nil {
		return fmt.Errorf("--db %s: the metadata store does not answer: %s", f.redactedDB(), backend.OneLine(err))
	}
	return nil
}

// redactedDB is --db with its password hidden.
func (f serveFlags) redactedDB() string { return backend.Redact(f.db) }
