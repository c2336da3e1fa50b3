package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/perseus-go/perseus/internal/ingest"
	"github.com/perseus-go/perseus/internal/metrics"
	"github.com/perseus-go/perseus/internal/ratelimit"
	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/internal/webhook"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/rs/cors"
)

// Server answers the file API over HTTP: routes, auth, decoding, encoding
// and the mapping of the core's errors (answers.go). Everything a file
// goes through lives in the ingest core. Create one with New, mount
// Handler, and call Run for the core's background work.
type Server struct {
	cfg  Config
	core *ingest.Core // the life of every file: everything but HTTP
	sign sign.Signer  // upload and part URLs that point at this server
	mux  *router
	obs  *metrics.Metrics
	rate *ratelimit.PerKey // nil: no rate limit
	cors *cors.Cors        // nil without Config.CORSOrigins
	tus  http.Handler      // the tus 1.0 endpoint (tus.go)

	hooks *webhook.Dispatcher // nil when the metadata store keeps no webhooks (webhooks.go)
}

// New builds a Server from cfg.
func New(cfg Config) (*Server, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	signer, err := c.signer()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: c, sign: signer, obs: metrics.New(c.Version), cors: newCORS(c.CORSOrigins)}
	s.rate = ratelimit.New(c.RateLimit, c.RateBurst)
	s.cfg.Logger = slog.New(requestIDLogs{s.cfg.Logger.Handler()})
	s.cfg.Meta = metrics.NewMeta(c.Meta, s.obs)
	s.core, err = ingest.New(ingest.Config{
		Meta: s.cfg.Meta, Blobs: c.Blobs, Signer: s.sign,
		MaxFileSize: c.MaxFileSize, MinPartSize: c.MinPartSize, MaxPartSize: c.MaxPartSize, MaxParts: c.MaxParts,
		VerifyInterval: c.VerifyInterval, PendingTTL: c.PendingTTL, SweepInterval: c.SweepInterval,
		OrphanGrace: c.OrphanGrace, Logger: s.cfg.Logger, BlobFailed: s.obs.BlobError,
		QuotaFiles: c.QuotaFiles, QuotaBytes: c.QuotaBytes, Notified: c.S3EventsToken != "", DirectParts: c.DirectParts,
		EventRetention: c.EventRetention,
	})
	if err != nil {
		return nil, err
	}
	if s.tus, err = s.newTus(); err != nil {
		return nil, err
	}
	if err := s.newWebhooks(); err != nil {
		return nil, err
	}
	if err := s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) routes() error {
	m := newRouter()
	m.HandleFunc("POST /api/v0/file", s.auth(s.handleCreate))
	m.HandleFunc("POST /api/v0/file/find", s.auth(s.handleFind))
	m.HandleFunc("POST /api/v0/file/batch", s.auth(s.handleCreateBatch))
	m.HandleFunc("POST /api/v0/file/batch/content", s.auth(s.handleBatchContent))
	m.HandleFunc("POST /api/v0/file/stream", s.auth(s.handleStream))
	m.HandleFunc("GET /api/v0/file/{id}", s.auth(s.handleGet))
	m.HandleFunc("DELETE /api/v0/file/{id}", s.auth(s.handleDelete))
	m.HandleFunc("PUT /upload/{id}", s.handleUpload)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", s.handleReady)
	m.HandleFunc("GET /api/v0/file", s.auth(s.handleList))
	m.HandleFunc("GET /api/v0/file/{id}/content", s.auth(s.handleContent))
	m.HandleFunc("POST /api/v0/file/{id}/download-url", s.auth(s.handleDownloadURL))
	m.HandleFunc("GET /download/{id}", s.handleDownload)
	m.HandleFunc("GET /api/v0/openapi.json", s.handleOpenAPI)
	if !s.cfg.PrivateMetrics {
		m.Handle("GET /metrics", s.MetricsHandler())
	}
	m.HandleFunc("GET /api/v0/limits", s.auth(s.handleLimits))
	m.HandleFunc("GET /api/v0/events", s.auth(s.handleEvents))
	m.HandleFunc("POST /api/v0/file/multipart", s.auth(s.handleMultipartOpen))
	m.HandleFunc("POST /api/v0/file/{id}/multipart", s.auth(s.handleMultipartStart))
	m.HandleFunc("GET /api/v0/file/{id}/multipart", s.auth(s.handleMultipartGet))
	m.HandleFunc("POST /api/v0/file/{id}/multipart/{upload}/parts", s.auth(s.handlePartURLs))
	m.HandleFunc("POST /api/v0/file/{id}/multipart/{upload}/complete", s.auth(s.handleMultipartComplete))
	m.HandleFunc("DELETE /api/v0/file/{id}/multipart/{upload}", s.auth(s.handleMultipartAbort))
	m.HandleFunc("PUT /upload/{id}/parts/{n}", s.handlePartUpload)
	m.HandleFunc("POST /api/v0/s3/events", s.handleS3Events)
	for _, route := range []string{"OPTIONS " + tusBase + "{$}", "POST " + tusBase + "{$}",
		"OPTIONS " + tusBase + "{id}", "HEAD " + tusBase + "{id}", "PATCH " + tusBase + "{id}", "DELETE " + tusBase + "{id}"} {
		m.Handle(route, s.tus)
	}
	if s.hooks != nil {
		m.HandleFunc("POST /api/v0/webhooks", s.auth(s.handleWebhookCreate))
		m.HandleFunc("GET /api/v0/webhooks", s.auth(s.handleWebhookList))
		m.HandleFunc("DELETE /api/v0/webhooks/{id}", s.auth(s.handleWebhookDelete))
		m.HandleFunc("POST /api/v0/webhooks/{id}/test", s.auth(s.handleWebhookTest))
	}
	if err := s.consoleRoutes(m); err != nil {
		return err
	}
	s.mux = m
	return nil
}

// Handler returns the HTTP handler of the whole API. Requests no route takes
// get the mux's own 404 or 405, as JSON with a message like every error.
func (s *Server) Handler() http.Handler {
	var h http.Handler = idleBodies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.mux.Handler(r); pattern == "" {
			s.mux.ServeHTTP(&unrouted{ResponseWriter: w}, r)
			return
		}
		s.mux.ServeHTTP(w, r)
	}))
	if s.cors != nil {
		h = s.cors.Handler(h)
	}
	return s.observe(h)
}

// MetricsHandler serves the server's metrics in the Prometheus text format:
// at GET /metrics of Handler, unless Config.PrivateMetrics.
func (s *Server) MetricsHandler() http.Handler { return s.obs.Handler() }

// Drain answers the long polls in progress (GET /api/v0/file/{id}?wait=)
// at once with each file as it is, and later ones without waiting, and
// ends the streams of events (GET /api/v0/events), which their clients
// resume on another replica, so that a server shutting down need not hold
// them to their end. Everything else
// is served as before. Call it as http.Server.Shutdown begins
// (http.Server.RegisterOnShutdown).
func (s *Server) Drain() { s.core.Drain() }

// unrouted turns the mux's plain-text 404 and 405 into JSON errors; anything
// else (a redirect to a cleaned path) passes through.
type unrouted struct {
	http.ResponseWriter
	swallow bool
}

func (u *unrouted) WriteHeader(status int) {
	switch status {
	case http.StatusNotFound:
		u.swallow = true
		writeError(u.ResponseWriter, ErrRouteNotFound)
	case http.StatusMethodNotAllowed:
		u.swallow = true
		writeError(u.ResponseWriter, ErrMethod.With("%s; allowed: %s", ErrMethod.Message, u.Header().Get("Allow")))
	default:
		u.ResponseWriter.WriteHeader(status)
	}
}

func (u *unrouted) Write(b []byte) (int, error) {
	if u.swallow {
		return len(b), nil
	}
	return u.ResponseWriter.Write(b)
}

type ctxKey struct{}

// tenantOf returns the tenant that auth resolved for r.
func tenantOf(r *http.Request) string { return r.Context().Value(ctxKey{}).(string) }

// auth resolves the bearer key to a tenant, or answers 401; then holds the
// key to its request rate, or answers 429.
func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		const prefix = "Bearer "
		h := r.Header.Get("Authorization")
		if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
			writeError(w, ErrUnauthorized)
			return
		}
		key := h[len(prefix):]
		tenant, ok := s.cfg.StaticKeys[key]
		if !ok {
			k, err := s.cfg.Meta.KeyByHash(r.Context(), HashKey(key))
			if errors.Is(err, meta.ErrNotFound) {
				writeError(w, ErrUnauthorized)
				return
			}
			if err != nil {
				s.storeError(w, r, "key lookup", err)
				return
			}
			tenant = k.Tenant
		}
		if !s.allow(w, key) {
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, tenant)))
	}
}

// HashKey returns how an API key is stored: its hex SHA-256.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	// The details (hosts, users, buckets) go to the log, not to whoever asks.
	metaErr, blobErr := s.core.Ping(ctx)
	if err := metaErr; err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "readiness: metadata store", "err", err)
		writeError(w, ErrNotReady.With("the metadata store does not answer; see the server log"))
		return
	}
	if err := blobErr; err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "readiness: blob store", "err", err)
		writeError(w, ErrNotReady.With("the blob store does not answer; see the server log"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Run does the core's background work (verifying direct uploads, sweeping,
// watching other replicas' changes) and delivers webhooks until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { s.runWebhooks(ctx) })
	err := s.core.Run(ctx)
	wg.Wait()
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) { writeJSON(w, e.Status, e) }
