package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perseus-go/perseus/internal/backend"
	"github.com/perseus-go/perseus/server"
	"github.com/spf13/cobra"
)

type serveFlags struct {
	addr, data, db, blobs, publicURL string
	apiKeys                          []string
	ttl, verify, pendingTTL, sweep   time.Duration
	maxSize                          int64
	logFormat, pprofAddr             string
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	env := envFlags{"addr": "PERSEUS_ADDR", "data": "PERSEUS_DATA", "db": "PERSEUS_DB", "blobs": "PERSEUS_BLOBS",
		"api-key": "PERSEUS_API_KEYS", "public-url": "PERSEUS_PUBLIC_URL", "upload-url-ttl": "PERSEUS_UPLOAD_URL_TTL",
		"max-file-size": "PERSEUS_MAX_FILE_SIZE", "verify-interval": "PERSEUS_VERIFY_INTERVAL",
		"log-format": "PERSEUS_LOG_FORMAT", "pprof": "PERSEUS_PPROF",
		"pending-ttl": "PERSEUS_PENDING_TTL", "sweep-interval": "PERSEUS_SWEEP_INTERVAL"}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Perseus file server",
		Long: `Run the server of the Perseus v0 file API.

With no flags it runs on the embedded default: metadata in SQLite and content
in a directory, both under --data; nothing else to install or start. With
--db postgres://… and --blobs s3://… any number of replicas share one
PostgreSQL and one S3-compatible store, and clients upload straight to S3.

With no --api-key, a development key is generated on first start, kept in
DATA/dev-api-key and printed. Keys made with 'perseus keys create' always work.
Every flag has an environment equivalent, shown in [brackets].`,
		Example: `  perseus serve
  perseus serve --addr 0.0.0.0:8080 --data /var/lib/perseus
  perseus serve --db postgres://perseus@db:5432/perseus \
    --blobs 's3://perseus?endpoint=http://minio:9000&region=us-east-1'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := env.apply(cmd.Flags()); err != nil {
				return err
			}
			return runServe(cmd.Context(), cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "`HOST:PORT` to listen on [PERSEUS_ADDR]")
	fl.StringVar(&f.data, "data", "perseus-data", "`DIR` where the embedded default keeps everything [PERSEUS_DATA]")
	fl.StringVar(&f.db, "db", "", "metadata store `URL`: sqlite:///PATH or postgres://… (default sqlite under --data) [PERSEUS_DB]")
	fl.StringVar(&f.blobs, "blobs", "", "content store `URL`: file:///PATH or s3://BUCKET?endpoint=…&region=… (default a directory under --data) [PERSEUS_BLOBS]")
	fl.StringArrayVar(&f.apiKeys, "api-key", nil, "accept this API `KEY` for tenant \"default\"; repeatable [PERSEUS_API_KEYS, comma-separated]")
	fl.StringVar(&f.publicURL, "public-url", "", "base `URL` of upload URLs when behind a proxy (default: from each request's Host) [PERSEUS_PUBLIC_URL]")
	fl.DurationVar(&f.ttl, "upload-url-ttl", time.Hour, "how long an upload URL stays valid, at most 1h [PERSEUS_UPLOAD_URL_TTL]")
	fl.Int64Var(&f.maxSize, "max-file-size", 5<<40, "largest file accepted, in `BYTES` [PERSEUS_MAX_FILE_SIZE]")
	fl.DurationVar(&f.verify, "verify-interval", 200*time.Millisecond, "how often direct (S3) uploads are looked for and verified [PERSEUS_VERIFY_INTERVAL]")
	fl.DurationVar(&f.pendingTTL, "pending-ttl", 24*time.Hour, "delete pending records (and their partial uploads) untouched this long [PERSEUS_PENDING_TTL]")
	fl.DurationVar(&f.sweep, "sweep-interval", 10*time.Minute, "how often abandoned records and orphaned content are swept [PERSEUS_SWEEP_INTERVAL]")
	fl.StringVar(&f.logFormat, "log-format", "text", "log `FORMAT`: text or json [PERSEUS_LOG_FORMAT]")
	fl.StringVar(&f.pprofAddr, "pprof", "", "serve net/http/pprof on this `HOST:PORT` (off when empty) [PERSEUS_PPROF]")
	return cmd
}

func runServe(ctx context.Context, cmd *cobra.Command, f serveFlags) error {
	stderr := cmd.ErrOrStderr()
	if err := f.check(); err != nil {
		return err
	}
	if f.ttl <= 0 || f.ttl > time.Hour {
		return usageError{fmt.Errorf("--upload-url-ttl %v: must be more than 0 and at most 1h", f.ttl)}
	}
	var logger *slog.Logger
	switch f.logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	default:
		return usageError{fmt.Errorf("--log-format %q: use text or json", f.logFormat)}
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return fmt.Errorf("--data %s: %w", f.data, err)
	}
	if f.db == "" {
		f.db = backend.DefaultDB(f.data)
	}
	if f.blobs == "" {
		f.blobs = backend.DefaultBlobs(f.data)
	}
	metaStore, err := backend.OpenMeta(ctx, f.db)
	if err != nil {
		return err
	}
	defer metaStore.Close()
	blobs, err := backend.OpenBlobs(ctx, f.blobs)
	if err != nil {
		return err
	}
	if err := pingStores(ctx, f, metaStore, blobs); err != nil {
		return err
	}
	signingKey, err := secretFile(filepath.Join(f.data, "signing.key"), 32)
	if err != nil {
		return err
	}
	keys := map[string]string{}
	for _, k := range f.apiKeys {
		keys[k] = "default"
	}
	if len(keys) == 0 {
		devKey, err := secretFile(filepath.Join(f.data, "dev-api-key"), 24)
		if err != nil {
			return err
		}
		keys[string(devKey)] = "default"
		fmt.Fprintf(stderr, "perseus: development API key (tenant default, kept in %s):\n  export LETTRIA_API_KEY=%s\n",
			filepath.Join(f.data, "dev-api-key"), devKey)
	}
	srv, err := server.New(server.Config{Meta: metaStore, Blobs: blobs, SigningKey: signingKey, PublicURL: f.publicURL,
		StaticKeys: keys, UploadURLTTL: f.ttl, MaxFileSize: f.maxSize, VerifyInterval: f.verify,
		PendingTTL: f.pendingTTL, SweepInterval: f.sweep, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", f.addr, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	if f.pprofAddr != "" {
		go servePprof(f.pprofAddr, logger)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Run(runCtx)
	fmt.Fprintf(stderr, "perseus: serving on http://%s (db %s, blobs %s)\n", ln.Addr(), backend.Redact(f.db), f.blobs)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "perseus: shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	return hs.Shutdown(sctx)
}

// secretFile returns the secret kept in path, creating it with n random bytes
// (hex) on first use, readable by the owner only.
func secretFile(path string, n int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return []byte(s), nil
		}
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, n)
	rand.Read(raw)
	secret := []byte(hex.EncodeToString(raw))
	if err := os.WriteFile(path, append(secret, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return secret, nil
}

func servePprof(addr string, logger *slog.Logger) {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	logger.Info("pprof listening", "addr", addr)
	if err := http.ListenAndServe(addr, m); err != nil {
		logger.Error("pprof", "err", err)
	}
}
