// Package server is the HTTP layer of the Perseus file API: routes, auth, JSON and one table of answers, over the ingest core.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/perseus-go/perseus/internal/ratelimit"
	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// Config is everything a Server is built from.
type Config struct {
	// Meta keeps file records and API keys. Required.
	Meta meta.Store
	// Blobs keeps content. Required. It must take multipart uploads
	// (blob.Multiparter or blob.Assembler). If it implements
	// blob.Presigner, clients upload straight to it and the server verifies
	// what arrives.
	Blobs blob.Store
	// SigningKey signs upload, part and download URLs and multipart upload
	// ids: the key of a lone server, at least 32 bytes. Give either it or
	// SigningKeys.
	SigningKey []byte
	// SigningKeys are the keys of a fleet, the same on every replica: the
	// first signs, and what any of them signed is accepted, so that keys
	// can be rotated. Each has an ID, named beside what it signs, so that a
	// replica without the key says which key it lacks.
	SigningKeys []SigningKey
	// PublicURL is the base of upload and download URLs pointing at this
	// server, e.g. https://files.example.com when behind a proxy. Empty:
	// derived from each request's Host.
	PublicURL string
	// StaticKeys maps API keys given on the command line to their tenant.
	StaticKeys map[string]string
	// UploadURLTTL is how long an upload URL stays valid. Default 1h.
	UploadURLTTL time.Duration
	// MaxFileSize is the largest content accepted, in bytes. Default 5 TiB.
	MaxFileSize int64
	// MinPartSize, MaxPartSize and MaxParts bound multipart uploads: every
	// part but the last is at least MinPartSize bytes, none is more than
	// MaxPartSize, and a file has at most MaxParts parts (10000 at most).
	// Defaults 5 MiB, 5 GiB and 10000, S3's own limits.
	MinPartSize, MaxPartSize int64
	MaxParts                 int
	// MaxFindValues caps ids plus sourceHashes in one find. Default 1000.
	MaxFindValues int
	// RateLimit is how many requests per second each API key may make to
	// this server (each replica counts its own), sustained, and RateBurst
	// how many at once; beyond them a request is answered 429 with
	// Retry-After (ratelimit.go). RateLimit 0: no limit. RateBurst default:
	// RateLimit rounded up, at least 1.
	RateLimit float64
	RateBurst int
	// QuotaFiles and QuotaBytes bound what each tenant keeps: its pending
	// and uploaded files, and the sizes of its uploaded ones; what does not
	// fit is refused (413 or 507) before its bytes are sent. 0: no bound.
	QuotaFiles, QuotaBytes int64
	// DirectParts has an S3 store take multipart uploads' parts straight
	// from clients at presigned URLs, each file read back to verify it;
	// by default the parts come through the server (ingest.Config).
	DirectParts bool
	// VerifyInterval is how often direct uploads are looked for. Default
	// 200ms, or 1m with S3EventsToken.
	VerifyInterval time.Duration
	// S3EventsToken, when set, makes the server take the S3 event
	// notifications of its bucket at POST /api/v0/s3/events, from a sender
	// that gives this token (?token=, or as a bearer or basic-auth
	// password), and verify each direct upload as it arrives (s3events.go).
	// The listing of direct uploads becomes a safety net: every
	// VerifyInterval (default 1m then) and on one replica at a time. At
	// least 16 bytes; the blob store must be S3 (blob.Locator).
	S3EventsToken string
	// PendingTTL is how long a pending record may go without an upload
	// before the sweeper deletes it. Default 24h.
	PendingTTL time.Duration
	// SweepInterval is how often abandoned records and orphaned content are
	// swept. Default 10m.
	SweepInterval time.Duration
	// OrphanGrace is how old unreferenced content must be before the sweeper
	// removes it, so that it never races an upload in flight. Default 10m.
	OrphanGrace time.Duration
	// EventRetention is how long each tenant's events are kept for GET
	// /api/v0/events (and a stream that resumes with Last-Event-ID) before
	// the sweeper prunes them. Default 7 days.
	EventRetention time.Duration
	// EventHeartbeat is how often a stream of events that has nothing to
	// send sends a comment, so that proxies and clients see it alive.
	// Default 15s.
	EventHeartbeat time.Duration
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// CORSOrigins are the origins (scheme://host[:port], "*" for any, or
	// one "*." before a host for its subdomains) whose web pages may call the
	// API (cors.go). Empty: no CORS headers at all. See CheckOrigin.
	CORSOrigins []string
	// NoConsole keeps the web console (GET / and GET /assets/, package
	// web) off Handler: only the API is served.
	NoConsole bool
	// PrivateMetrics keeps GET /metrics off Handler, for a program that
	// serves MetricsHandler on a listener of its own.
	PrivateMetrics bool
	// Version names this build in the perseus_build_info metric. Default:
	// the main module's version from the binary's build information.
	Version string

	// Webhooks (webhooks.go). WebhookAllow are the networks deliveries may
	// reach although they are denied by default (webhook.Denied: loopback,
	// private, link-local and metadata, CGNAT, multicast…); an allowed
	// network overrides a denied one.
	WebhookAllow []netip.Prefix
	// WebhookRetryFor is how long an event is retried before its webhook
	// is marked failing; it is still retried, hourly. Default 24h.
	WebhookRetryFor time.Duration
	// WebhookTimeout is the longest one delivery may take, the receiver's
	// answer included. Default 10s.
	WebhookTimeout time.Duration
	// WebhookLease is how long a replica holds a webhook while it delivers
	// one event; when a replica dies mid-delivery, another delivers the
	// event once the lease has run out. Default WebhookTimeout + 5s.
	WebhookLease time.Duration
	// WebhookWorkers is how many deliveries this replica makes at once.
	// Default 4.
	WebhookWorkers int
	// WebhookRetryDelays are the pauses after each failed attempt at an
	// event, the last repeated, each within ±20%. Default 5s, 30s, 2m,
	// 10m, 1h.
	WebhookRetryDelays []time.Duration
	// MaxWebhooks is how many webhooks a tenant may have. Default 20.
	MaxWebhooks int
}

// SigningKey is one signing key of a fleet: an ID of 1 to 32 letters,
// digits or underscores, and a secret of at least 32 bytes.
type SigningKey struct {
	ID     string
	Secret []byte
}

// signer returns the signer of the configured keys.
func (c *Config) signer() (sign.Signer, error) {
	switch {
	case len(c.SigningKeys) > 0 && c.SigningKey != nil:
		return sign.Signer{}, errors.New("server: give Config.SigningKey or Config.SigningKeys, not both")
	case len(c.SigningKeys) > 0:
		keys := make([]sign.Key, len(c.SigningKeys))
		for i, k := range c.SigningKeys {
			keys[i] = sign.Key{ID: k.ID, Secret: k.Secret}
		}
		s, err := sign.NewKeys(keys...)
		if err != nil {
			return s, fmt.Errorf("server: Config.SigningKeys: %w", err)
		}
		return s, nil
	case len(c.SigningKey) < sign.MinSecret:
		return sign.Signer{}, errors.New("server: Config.SigningKey must be at least 32 bytes")
	}
	return sign.New(c.SigningKey), nil
}

// withDefaults fills the HTTP layer's defaults; the ingest core fills and
// checks the rest (sizes, intervals) when it is built.
func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.Meta == nil || cfg.Blobs == nil {
		return cfg, errors.New("server: Config.Meta and Config.Blobs are required")
	}
	if cfg.UploadURLTTL <= 0 {
		cfg.UploadURLTTL = time.Hour
	}
	if cfg.RateLimit < 0 || cfg.RateBurst < 0 {
		return cfg, errors.New("server: Config.RateLimit and Config.RateBurst must not be negative")
	}
	if cfg.RateLimit > 0 && cfg.RateBurst == 0 {
		cfg.RateBurst = ratelimit.DefaultBurst(cfg.RateLimit)
	}
	if cfg.EventHeartbeat <= 0 {
		cfg.EventHeartbeat = 15 * time.Second
	}
	if cfg.S3EventsToken != "" {
		if len(cfg.S3EventsToken) < minS3EventsToken {
			return cfg, fmt.Errorf("server: Config.S3EventsToken must be at least %d bytes", minS3EventsToken)
		}
		if _, ok := cfg.Blobs.(blob.Locator); !ok {
			return cfg, errors.New("server: Config.S3EventsToken: the blob store takes no S3 event notifications (it is not an S3 store)")
		}
	}
	if cfg.MaxWebhooks <= 0 {
		cfg.MaxWebhooks = 20
	}
	if cfg.MaxFindValues <= 0 {
		cfg.MaxFindValues = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, o := range cfg.CORSOrigins {
		if err := CheckOrigin(o); err != nil {
			return cfg, fmt.Errorf("server: Config.CORSOrigins: %w", err)
		}
	}
	if cfg.Version == "" {
		cfg.Version = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			cfg.Version = bi.Main.Version
		}
	}
	return cfg, nil
}
