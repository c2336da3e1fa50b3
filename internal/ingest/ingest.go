// Package ingest holds the life of a file: create, take bytes however they arrive, verify and settle, delete, sweep and wait.
package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// Config is everything a Core is built from.
type Config struct {
	// Meta keeps file records. Required.
	Meta meta.Store
	// Blobs keeps content. Required. It must take multipart uploads
	// (blob.Multiparter, as S3 does, or blob.Assembler, as the local store
	// does). If it implements blob.Presigner, clients upload straight to it
	// and the core verifies what arrives (Run).
	Blobs blob.Store
	// DirectParts has a store that can take multipart uploads' parts both
	// ways (blob.PartStreamer) take them straight from clients, at
	// presigned URLs, and read each object back to verify it; by default
	// the parts come through the server, which relays them to the store
	// and checks them on the way (multipart_relayed.go).
	DirectParts bool
	// Signer binds multipart upload ids to their record. Required.
	Signer sign.Signer
	// MaxFileSize is the largest content accepted, in bytes. Default 5 TiB.
	MaxFileSize int64
	// MinPartSize, MaxPartSize and MaxParts bound multipart uploads: every
	// part but the last is at least MinPartSize bytes, none is more than
	// MaxPartSize, and a file has at most MaxParts parts (10000 at most).
	// Defaults 5 MiB, 5 GiB and 10000, S3's own limits.
	MinPartSize, MaxPartSize int64
	MaxParts                 int
	// QuotaFiles and QuotaBytes bound what each tenant keeps: its pending
	// and uploaded files, and the sizes of its uploaded ones (see quota.go).
	// 0: no bound.
	QuotaFiles, QuotaBytes int64
	// VerifyInterval is how often direct uploads are looked for. Default
	// 200ms, or 1m when Notified.
	VerifyInterval time.Duration
	// Notified says that the blob store tells of the objects written to it
	// (S3 event notifications, handed to Arrived), so that a direct upload
	// is verified as it arrives: the listing of direct uploads is then only
	// the safety net for a notification lost, slow (VerifyInterval's
	// default is 1m) and done by one replica at a time where the metadata
	// store locks for every process (meta.Locker; arrivals.go).
	Notified bool
	// PendingTTL is how long a pending record may go without an upload
	// before the sweeper deletes it. Default 24h.
	PendingTTL time.Duration
	// SweepInterval is how often abandoned records and orphaned content are
	// swept. Default 10m.
	SweepInterval time.Duration
	// OrphanGrace is how old unreferenced content must be before the sweeper
	// removes it, so that it never races an upload in flight. Default 10m.
	OrphanGrace time.Duration
	// EventRetention is how long each tenant's events are kept in the
	// event log (meta.EventLog) before the sweeper prunes them: how long a
	// client may be away and still resume its stream of events without
	// missing one. Default 7 days.
	EventRetention time.Duration
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// BlobFailed, when set, is called with the operation of every failed
	// call to the blob store that the core answers as ErrUnavailable.
	BlobFailed func(op string)
}

func (c Config) withDefaults() (Config, error) {
	if c.Meta == nil || c.Blobs == nil {
		return c, errors.New("ingest: Config.Meta and Config.Blobs are required")
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.MaxFileSize <= 0 {
		c.MaxFileSize = 5 << 40
	}
	if c.MinPartSize <= 0 {
		c.MinPartSize = 5 << 20
	}
	if c.MaxPartSize <= 0 {
		c.MaxPartSize = 5 << 30
	}
	if c.MaxParts <= 0 {
		c.MaxParts = 10000
	}
	if c.QuotaFiles < 0 || c.QuotaBytes < 0 {
		return c, errors.New("ingest: Config.QuotaFiles and Config.QuotaBytes must not be negative")
	}
	if c.MinPartSize > c.MaxPartSize {
		return c, errors.New("ingest: Config.MinPartSize must not be more than Config.MaxPartSize")
	}
	if c.MaxParts > 10000 {
		// S3's own limit; it also keeps a complete request's list of parts
		// within the JSON body limit.
		return c, errors.New("ingest: Config.MaxParts must be at most 10000")
	}
	if c.Notified {
		def(&c.VerifyInterval, time.Minute)
	}
	def(&c.VerifyInterval, 200*time.Millisecond)
	def(&c.PendingTTL, 24*time.Hour)
	def(&c.SweepInterval, 10*time.Minute)
	def(&c.OrphanGrace, 10*time.Minute)
	def(&c.EventRetention, 7*24*time.Hour)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.BlobFailed == nil {
		c.BlobFailed = func(string) {}
	}
	return c, nil
}

// Core is the life of every file of every tenant, over one metadata store
// and one blob store. Every method is safe for concurrent use, and several
// processes (replicas) may share the stores.
type Core struct {
	cfg      Config
	meta     meta.Store
	blobs    blob.Store
	parts    parter              // how the store keeps multipart uploads, chosen in New
	presign  blob.Presigner      // nil when uploads come through the HTTP layer
	reads    blob.PresignGetter  // nil when downloads come through the HTTP layer
	locate   blob.Locator        // nil when the store names no notified objects
	batch    blob.BatchCommitter // nil when the store commits no objects together (ReceiveAll)
	arrived  chan string         // staging keys notified (Arrived), for verifyArrivals
	hub      hub                 // wakes waiters in this process
	events   meta.EventLog       // the store's event log; nil if it keeps none
	eventHub eventHub            // wakes streams of events in this process
	locks    keyLock             // complete/<id>, verify/<key>
	drained  chan struct{}       // closed by Drain: no more waiting
	drain    sync.Once
}

// New builds a Core from cfg, choosing once how its blob store keeps
// multipart uploads.
func New(cfg Config) (*Core, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Core{cfg: cfg, meta: cfg.Meta, blobs: cfg.Blobs, drained: make(chan struct{}), arrived: make(chan string, arrivalQueue)}
	c.presign, _ = cfg.Blobs.(blob.Presigner)
	c.reads, _ = cfg.Blobs.(blob.PresignGetter)
	c.locate, _ = cfg.Blobs.(blob.Locator)
	c.batch, _ = cfg.Blobs.(blob.BatchCommitter)
	c.events, _ = eventLogOf(cfg.Meta)
	switch b := cfg.Blobs.(type) {
	case blob.PartStreamer:
		c.parts = relayedParts{directParts: directParts{c, b}, s: b, direct: cfg.DirectParts}
	case blob.Multiparter:
		c.parts = directParts{c, b}
	case blob.Assembler:
		c.parts = assembledParts{c, b}
	default:
		return nil, errors.New("ingest: the blob store takes no multipart uploads: it implements neither blob.Multiparter (S3) nor blob.Assembler (local)")
	}
	return c, nil
}

// Limits are the bounds the core holds uploads to.
type Limits struct {
	MaxFileSize              int64
	MinPartSize, MaxPartSize int64
	MaxParts                 int
	// ChainedParts says whether parts may be checked as pieces of the
	// whole's SHA-256 (PartRef.From): only where the store assembles them.
	ChainedParts bool
	// ResumablePreferred says that a new file's bytes sent in order
	// (resumable uploads) cost no more than in parts: the blob store makes
	// them the object without copying them (blob.InPlaceAppender).
	ResumablePreferred bool
	// StreamMaxSize is the largest file Stream takes.
	StreamMaxSize int64
	// QuotaFiles and QuotaBytes are what each tenant may keep; 0: no bound.
	QuotaFiles, QuotaBytes int64
	// PendingTTL is how long an upload lasts without bytes arriving.
	PendingTTL time.Duration
}

// Limits returns the bounds the core holds uploads to.
func (c *Core) Limits() Limits {
	return Limits{
		MaxFileSize: c.cfg.MaxFileSize, MinPartSize: c.cfg.MinPartSize, MaxPartSize: c.cfg.MaxPartSize,
		MaxParts: c.cfg.MaxParts, ChainedParts: c.parts.chained(), StreamMaxSize: c.streamMax(),
		QuotaFiles: c.cfg.QuotaFiles, QuotaBytes: c.cfg.QuotaBytes, PendingTTL: c.cfg.PendingTTL,
		ResumablePreferred: c.resumablePreferred(),
	}
}

// Ping checks that both stores can serve; the error names which cannot.
func (c *Core) Ping(ctx context.Context) (metaErr, blobErr error) {
	return c.meta.Ping(ctx), c.blobs.Ping(ctx)
}

// Run does the core's background work until ctx ends: it verifies direct
// (presigned) uploads every VerifyInterval, because existing clients never
// say that an upload is done (when Notified, on one replica at a time:
// listStaged), and those the store tells of as they arrive (Arrived); it
// sweeps abandoned records and orphaned content every SweepInterval; and
// where the metadata store can tell of changes made by other processes, it
// wakes this process's waiters, and of events committed by any process,
// this process's streams of events (SubscribeEvents). It returns once all
// of that has stopped.
func (c *Core) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		c.every(ctx, c.cfg.SweepInterval, "sweep", func(ctx context.Context) error {
			_, err := c.Sweep(ctx)
			return err
		})
	})
	if c.presign != nil {
		wg.Go(func() { c.listStaged(ctx) })
	}
	if c.locate != nil {
		for range arrivalWorkers {
			wg.Go(func() { c.verifyArrivals(ctx) })
		}
	}
	if w, ok := watcherOf(c.meta); ok {
		wg.Go(func() { c.watch(ctx, w) })
	}
	if c.events != nil {
		wg.Go(func() { c.watchEvents(ctx, c.events) })
	}
	wg.Wait()
	return nil
}

// every runs fn now and then every d until ctx ends, logging failures.
func (c *Core) every(ctx context.Context, d time.Duration, what string, fn func(context.Context) error) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Warn(what+" failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// unavailable logs a failed call to the blob store, counts it, and returns
// ErrUnavailable with msg for a person.
func (c *Core) unavailable(ctx context.Context, op, id string, err error, msg string) error {
	c.cfg.BlobFailed(op)
	c.cfg.Logger.ErrorContext(ctx, "blob "+op, "id", id, "err", err)
	if msg == "" {
		return ErrUnavailable
	}
	return failf(ErrUnavailable, "%s", msg)
}
