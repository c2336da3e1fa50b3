package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/backend"
	"github.com/perseus-go/perseus/server"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/spf13/cobra"
)

type serveFlags struct {
	addr, data, db, blobs, publicURL string
	apiKeyList                       []string
	signingKeyList                   []string
	signingKeyFile                   string
	ttl, verify, pendingTTL, sweep   time.Duration
	verifySet                        bool   // --verify-interval given
	s3EventsToken                    string // --s3-events-token
	s3Parts                          string // --s3-parts
	eventRetention                   time.Duration
	maxSize                          int64
	logFormat, pprofAddr             string
	console                          bool         // --console: serve the web console at /
	limits                           limitFlags   // serve_limits.go
	webhooks                         webhookFlags // serve_webhooks.go
	ops                              opsFlags     // TLS, CORS, log level, metrics, shutdown: serve_ops.go
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	env := envFlags{"addr": "PERSEUS_ADDR", "data": "PERSEUS_DATA", "db": "PERSEUS_DB", "blobs": "PERSEUS_BLOBS",
		"api-key": "PERSEUS_API_KEYS", "public-url": "PERSEUS_PUBLIC_URL", "upload-url-ttl": "PERSEUS_UPLOAD_URL_TTL",
		"max-file-size": "PERSEUS_MAX_FILE_SIZE", "verify-interval": "PERSEUS_VERIFY_INTERVAL",
		"log-format": "PERSEUS_LOG_FORMAT", "pprof": "PERSEUS_PPROF",
		"pending-ttl": "PERSEUS_PENDING_TTL", "sweep-interval": "PERSEUS_SWEEP_INTERVAL", "event-retention": "PERSEUS_EVENT_RETENTION",
		"signing-key": "PERSEUS_SIGNING_KEY", "signing-key-file": "PERSEUS_SIGNING_KEY_FILE",
		"s3-events-token": "PERSEUS_S3_EVENTS_TOKEN", "console": "PERSEUS_CONSOLE", "s3-parts": "PERSEUS_S3_PARTS"}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Perseus file server",
		Long: `Run the server of the Perseus v0 file API.

With no flags it runs on the embedded default: metadata in SQLite and content
in a directory, both under --data; nothing else to install or start. With
--db postgres://… and --blobs s3://… any number of replicas share one
PostgreSQL and one S3-compatible store, and clients upload straight to S3.

API keys: give --api-key, or create keys with 'perseus keys create' (they
always work). Only on the embedded default, and only when no key exists at
all, a development key is generated, kept in DATA/dev-api-key and printed;
anywhere else a server without any key refuses to start.

Signing keys sign upload URLs and multipart uploads. Off the embedded
default every replica needs the same list: --signing-key ID=SECRET (the
first signs, all are accepted, so that keys can be rotated). On the
embedded default, without it, a key is kept in DATA/signing.key.
Every flag has an environment equivalent, shown in [brackets].`,
		Example: `  perseus serve
  perseus serve --addr 0.0.0.0:8080 --data /var/lib/perseus
  perseus serve --db postgres://perseus@db:5432/perseus \
    --blobs 's3://perseus?endpoint=http://minio:9000&region=us-east-1' \
    --signing-key k2026=$SIGNING_SECRET`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := env.apply(cmd.Flags()); err != nil {
				return err
			}
			f.verifySet = cmd.Flags().Changed("verify-interval")
			return runServe(cmd.Context(), cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "`HOST:PORT` to listen on [PERSEUS_ADDR]")
	fl.StringVar(&f.data, "data", "perseus-data", "`DIR` where the embedded default keeps everything [PERSEUS_DATA]")
	fl.StringVar(&f.db, "db", "", "metadata store `URL`: sqlite:///PATH or postgres://… (default sqlite under --data) [PERSEUS_DB]")
	fl.StringVar(&f.blobs, "blobs", "", "content store `URL`: file:///PATH or s3://BUCKET?endpoint=…&region=… (default a directory under --data) [PERSEUS_BLOBS]")
	fl.StringArrayVar(&f.apiKeyList, "api-key", nil, "accept this API `KEY` for tenant \"default\"; repeatable [PERSEUS_API_KEYS, comma-separated]")
	fl.StringArrayVar(&f.signingKeyList, "signing-key", nil, "signing key `ID=SECRET` (secret of 32 bytes or more), the same on every replica; repeatable: the first signs, all are accepted [PERSEUS_SIGNING_KEY, comma-separated]")
	fl.StringVar(&f.signingKeyFile, "signing-key-file", "", "`FILE` of signing keys, one ID=SECRET a line, after any --signing-key [PERSEUS_SIGNING_KEY_FILE]")
	fl.StringVar(&f.publicURL, "public-url", "", "base `URL` of upload and download URLs when behind a proxy (default: from each request's Host) [PERSEUS_PUBLIC_URL]")
	fl.DurationVar(&f.ttl, "upload-url-ttl", time.Hour, "how long an upload URL stays valid, at most 1h [PERSEUS_UPLOAD_URL_TTL]")
	sizeVar(fl, &f.maxSize, "max-file-size", 5<<40, "largest file accepted: `SIZE` in bytes, or with a unit such as 500MB or 5GiB [PERSEUS_MAX_FILE_SIZE]")
	fl.DurationVar(&f.verify, "verify-interval", 0, "how often direct (S3) uploads are looked for and verified (default 200ms; 1m with --s3-events-token, on one replica at a time) [PERSEUS_VERIFY_INTERVAL]")
	fl.StringVar(&f.s3EventsToken, "s3-events-token", "", "take the S3 bucket's event notifications at POST /api/v0/s3/events?token=`TOKEN` (16 bytes or more), verifying each direct upload as it arrives; the listing becomes a slow safety net [PERSEUS_S3_EVENTS_TOKEN]")
	fl.StringVar(&f.s3Parts, "s3-parts", "relay", "how the parts of multipart uploads reach an S3 store: `relay` (through this server, which checks each on its way: no read-back to verify the file) or direct (to presigned S3 URLs; the server reads each file back to verify it) [PERSEUS_S3_PARTS]")
	fl.DurationVar(&f.pendingTTL, "pending-ttl", 24*time.Hour, "delete pending records (and their partial uploads) untouched this long [PERSEUS_PENDING_TTL]")
	fl.DurationVar(&f.sweep, "sweep-interval", 10*time.Minute, "how often abandoned records and orphaned content are swept [PERSEUS_SWEEP_INTERVAL]")
	fl.DurationVar(&f.eventRetention, "event-retention", 7*24*time.Hour, "how long each tenant's events are kept for GET /api/v0/events (how long a client may be away and resume without missing one) [PERSEUS_EVENT_RETENTION]")
	fl.StringVar(&f.logFormat, "log-format", "text", "log `FORMAT`: text or json [PERSEUS_LOG_FORMAT]")
	fl.BoolVar(&f.console, "console", true, "serve the web console at / (sign in with an API key; --console=false serves the API alone) [PERSEUS_CONSOLE]")
	fl.StringVar(&f.pprofAddr, "pprof", "", "serve net/http/pprof on this `HOST:PORT` (off when empty; --metrics-addr serves it too) [PERSEUS_PPROF]")
	f.ops.register(fl, env)
	f.limits.register(fl, env)
	f.webhooks.register(fl, env)
	return cmd
}

func runServe(ctx context.Context, cmd *cobra.Command, f serveFlags) (err error) {
	stderr := cmd.ErrOrStderr()
	if err := f.check(); err != nil {
		return err
	}
	if f.ttl <= 0 || f.ttl > time.Hour {
		return usageError{fmt.Errorf("--upload-url-ttl %v: must be more than 0 and at most 1h", f.ttl)}
	}
	ops, err := f.prepareOps(stderr)
	if err != nil {
		return err
	}
	defer ops.close()
	logger := ops.logger
	if f.db == "" {
		f.db = backend.DefaultDB(f.data)
	}
	if f.blobs == "" {
		f.blobs = backend.DefaultBlobs(f.data)
	}
	signingKeys, err := f.signingKeys()
	if err != nil {
		return err
	}
	if len(signingKeys) == 0 && !f.embedded() {
		return errNoSigningKey
	}
	// A start that fails leaves nothing behind: the port is taken before
	// anything is made, the blob store is reached before a database file is
	// created, and a --data directory this start created goes again.
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", f.addr, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	serving := false // from then on, --data holds what the server keeps, whatever happens
	if _, statErr := os.Stat(f.data); errors.Is(statErr, fs.ErrNotExist) {
		defer func() {
			if err != nil && !serving {
				os.RemoveAll(f.data)
			}
		}()
	}
	if f.embedded() {
		if err := os.MkdirAll(f.data, 0o700); err != nil {
			return fmt.Errorf("--data %s: %w", f.data, err)
		}
	}
	blobs, err := backend.OpenBlobs(ctx, f.blobs)
	if err != nil {
		return err
	}
	if _, ok := blobs.(blob.Locator); f.s3EventsToken != "" && !ok {
		return usageError{fmt.Errorf("--s3-events-token: only an S3 store sends event notifications; --blobs %s is not one", backend.Redact(f.blobs))}
	}
	if err := pingBlobs(ctx, f, blobs); err != nil {
		return err
	}
	metaStore, err := backend.OpenMeta(ctx, f.db)
	if err != nil {
		return err
	}
	defer metaStore.Close()
	if err := pingMeta(ctx, f, metaStore); err != nil {
		return err
	}
	cfg := server.Config{Meta: metaStore, Blobs: blobs, SigningKeys: signingKeys, PublicURL: f.publicURL,
		UploadURLTTL: f.ttl, MaxFileSize: f.maxSize, VerifyInterval: f.verify, S3EventsToken: f.s3EventsToken, DirectParts: f.s3Parts == "direct",
		PendingTTL: f.pendingTTL, SweepInterval: f.sweep, EventRetention: f.eventRetention, Logger: logger,
		CORSOrigins: f.ops.corsOrigins, NoConsole: !f.console, PrivateMetrics: ops.metrics != nil, Version: perseus.Version,
		RateLimit: f.limits.rate, RateBurst: f.limits.burst, QuotaFiles: f.limits.quotaFiles, QuotaBytes: int64(f.limits.quotaBytes)}
	if err := f.webhooks.apply(&cfg); err != nil {
		return err
	}
	if len(signingKeys) == 0 {
		if cfg.SigningKey, err = secretFile(filepath.Join(f.data, "signing.key"), 32); err != nil {
			return err
		}
	}
	if cfg.StaticKeys, err = f.apiKeys(ctx, metaStore, stderr); err != nil {
		return err
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	serving = true
	return ops.serve(ctx, ln, srv, "db", backend.Redact(f.db), "blobs", f.blobs, "s3_events", f.s3EventsToken != "")
}
