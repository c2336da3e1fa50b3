package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/perseus-go/perseus"
)

// writeFile writes n pseudo-random bytes, different for every seed, to path
// and flushes them to disk, so that no write-back of them runs during a
// measurement. The file stays in the page cache: every reader of it, the
// baselines included, reads it from memory.
func writeFile(path string, n int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	copy(key[8:], []byte(path))
	src := mrand.NewChaCha8(key)
	if _, err := io.CopyBuffer(f, io.LimitReader(src, n), make([]byte, 1<<20)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// settle flushes every dirty page of the machine and pauses, so that the
// write-back of files just generated does not run into the next measurement.
func settle() {
	syscall.Sync()
	time.Sleep(time.Second)
}

// checkUploaded checks that s holds an uploaded file of each hash.
func checkUploaded(ctx context.Context, s *server, hashes ...string) error {
	c, err := client(s.URL, 1)
	if err != nil {
		return err
	}
	for len(hashes) > 0 {
		batch := hashes[:min(100, len(hashes))]
		hashes = hashes[len(batch):]
		files, err := c.File.FindFiles(ctx, perseus.FindQuery{SourceHashes: batch})
		if err != nil {
			return err
		}
		uploaded := map[string]bool{}
		for _, f := range files {
			uploaded[f.SourceHash] = uploaded[f.SourceHash] || f.Status == perseus.StatusUploaded
		}
		for _, h := range batch {
			if !uploaded[h] {
				return fmt.Errorf("the server has no uploaded file of hash %s", h)
			}
		}
	}
	return nil
}

// client returns an SDK client for url whose transport keeps conns idle
// connections.
func client(url string, conns int) (*perseus.Client, error) {
	return clientWithKey(url, apiKey, conns)
}

// clientWithKey is client with another API key.
func clientWithKey(url, key string, conns int) (*perseus.Client, error) {
	return perseus.NewClient(perseus.WithHost(url), perseus.WithAPIKey(key), perseus.WithHTTPClient(httpClient(conns)))
}

// httpClient keeps conns idle connections to a host.
func httpClient(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = conns*2, conns*2
	return &http.Client{Transport: t}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pgSchema makes an empty schema in the PostgreSQL at base and returns a URL
// that uses it and a func that drops it.
func pgSchema(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	schema := "bench_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema, drop, nil
}

// pgSetting returns a PostgreSQL setting, for the notes.
func pgSetting(ctx context.Context, base, name string) string {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "?"
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
		return "?"
	}
	return v
}
