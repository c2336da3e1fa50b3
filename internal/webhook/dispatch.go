package webhook

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/perseus-go/perseus/store/meta"
	"golang.org/x/time/rate"
)

// Store is what delivery needs of the metadata store: webhooks and their
// delivery state, and the event log they deliver.
type Store interface {
	meta.Webhooks
	meta.EventLog
}

// StoreOf returns m, or the store it wraps (Unwrap), as a Store.
func StoreOf(m meta.Store) (Store, bool) {
	for {
		if s, ok := m.(Store); ok {
			return s, true
		}
		u, ok := m.(interface{ Unwrap() meta.Store })
		if !ok {
			return nil, false
		}
		m = u.Unwrap()
	}
}

// DefaultRetryDelays are the pauses after each failed attempt at an
// event: the first after the first failure, and so on, the last repeated
// for as long as the event is not taken.
var DefaultRetryDelays = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour}

// Config is everything a Dispatcher is built from.
type Config struct {
	// Store keeps webhooks and the event log. Required.
	Store Store
	// Payload returns the JSON body of an event. Required.
	Payload func(meta.Event) ([]byte, error)
	// Guard decides which addresses deliveries may reach.
	Guard Guard
	// Workers is how many deliveries this process makes at once, to as
	// many webhooks. Default 4.
	Workers int
	// Timeout is the longest one delivery may take, the receiver's answer
	// included. Default 10s.
	Timeout time.Duration
	// Lease is how long a worker holds a webhook while it delivers one
	// event: another process takes the webhook over once a lease its
	// holder did not end (it died mid-delivery) has run out. Default
	// Timeout + 5s; it must be more than Timeout.
	Lease time.Duration
	// RetryFor is how long an event is retried before its webhook is
	// marked failing (it is still retried, at the last of RetryDelays,
	// until it is taken or the webhook is removed). Default 24h.
	RetryFor time.Duration
	// RetryDelays are the pauses after each failed attempt at an event
	// (the last repeats), each with up to ±20% of jitter. Default
	// DefaultRetryDelays.
	RetryDelays []time.Duration
	// Poll is how often idle workers look for due webhooks beside the
	// store's news of new events (WatchEvents). Default 1s.
	Poll time.Duration
	// Holder names this process in the leases it takes; each worker adds
	// its number. Default: the host name and a random part.
	Holder string
	// UserAgent is sent with each delivery. Default "Perseus-Webhooks".
	UserAgent string
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Store == nil || c.Payload == nil {
		return c, errors.New("webhook: Config.Store and Config.Payload are required")
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Lease <= 0 {
		c.Lease = c.Timeout + 5*time.Second
	}
	if c.Lease <= c.Timeout {
		return c, fmt.Errorf("webhook: Config.Lease (%v) must be more than Config.Timeout (%v)", c.Lease, c.Timeout)
	}
	if c.RetryFor <= 0 {
		c.RetryFor = 24 * time.Hour
	}
	if len(c.RetryDelays) == 0 {
		c.RetryDelays = DefaultRetryDelays
	}
	for _, d := range c.RetryDelays {
		if d <= 0 {
			return c, errors.New("webhook: Config.RetryDelays must be positive")
		}
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Holder == "" {
		host, _ := os.Hostname()
		c.Holder = host + "-" + randomHex(4)
	}
	if c.UserAgent == "" {
		c.UserAgent = "Perseus-Webhooks"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Dispatcher delivers the events of every tenant to its webhooks: each
// webhook's events in order, each at least once, by whichever process
// leases the webhook (Store.TakeWebhook), so that processes sharing the
// store share the work and one that dies mid-delivery leaves it to
// another. A slow or dead receiver holds one worker for at most Timeout
// and nothing else: uploads never wait for deliveries.
type Dispatcher struct {
	cfg    Config
	send   *Sender
	kick   chan struct{} // wakes one idle worker
	looks  *rate.Limiter // how often idle workers look for due webhooks, however many events commit
	logged sync.Map      // what the last store failure logged said, by worker
}

// lookEvery is the shortest interval between two looks for due webhooks
// by idle workers: news of events, which may come by the thousand a
// second, are taken in batches, at the cost of as much latency.
const lookEvery = 20 * time.Millisecond

// New builds a Dispatcher from cfg.
func New(cfg Config) (*Dispatcher, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Dispatcher{cfg: c, send: NewSender(c.Guard, c.Timeout, c.UserAgent), kick: make(chan struct{}, 1),
		looks: rate.NewLimiter(rate.Every(lookEvery), 1)}, nil
}

// Notify tells the dispatcher that events were recorded: an idle worker
// looks for due webhooks at once. It never blocks.
func (d *Dispatcher) Notify() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. A delivery under way when it does may
// finish for a few seconds more (shutdownGrace), and is recorded.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { d.watch(ctx) })
	wg.Go(func() {
		t := time.NewTicker(d.cfg.Poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				d.Notify()
			}
		}
	})
	for i := range d.cfg.Workers {
		holder := d.cfg.Holder + "/" + strconv.Itoa(i)
		wg.Go(func() { d.work(ctx, holder) })
	}
	wg.Wait()
	return nil
}

// watch wakes a worker whenever an event commits, in any process sharing
// the store; it watches again a second after a failure, and the poll
// covers the gap.
func (d *Dispatcher) watch(ctx context.Context) {
	for ctx.Err() == nil {
		err := d.cfg.Store.WatchEvents(ctx, func(string, int64) { d.Notify() })
		if ctx.Err() != nil {
			return
		}
		d.cfg.Logger.Warn("webhooks: watching the event log failed; retrying in 1s", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// work is one worker: it takes a due webhook, delivers its next event, and
// takes another, until none is due; then it waits to be woken.
func (d *Dispatcher) work(ctx context.Context, holder string) {
	busy := false // it delivered last time round: it looks again at once
	for ctx.Err() == nil {
		if !busy && d.looks.Wait(ctx) != nil {
			return
		}
		w, ok, err := d.cfg.Store.TakeWebhook(ctx, holder, d.cfg.Lease)
		busy = ok
		switch {
		case err != nil:
			if ctx.Err() == nil {
				d.storeFailed(holder, "take a webhook", err)
			}
			d.pause(ctx, d.cfg.Poll)
			continue
		case !ok:
			select {
			case <-ctx.Done():
			case <-d.kick:
			}
			continue
		}
		d.logged.Delete(holder)
		d.Notify() // more may be due: another idle worker looks
		d.deliver(ctx, holder, w)
	}
}

// storeFailed logs a failure of the store once, until the worker gets by.
func (d *Dispatcher) storeFailed(holder, op string, err error) {
	if prev, ok := d.logged.Swap(holder, err.Error()); ok && prev == err.Error() {
		return
	}
	d.cfg.Logger.Warn("webhooks: the metadata store failed", "op", op, "worker", holder, "err", err)
}

func (d *Dispatcher) pause(ctx context.Context, t time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(t):
	}
}

// shutdownGrace is how long a delivery under way when Run's context ends
// may go on, so that what the receiver takes is recorded as taken.
const shutdownGrace = 5 * time.Second

// deliver sends w's next event (the first after its cursor that it takes)
// and records how it went, which ends the lease. Events it does not take
// are passed over with it; when none after the cursor is one it takes, the
// cursor moves past them.
func (d *Dispatcher) deliver(ctx context.Context, holder string, w meta.Webhook) {
	st := d.cfg.Store
	// The latest Seq first, then the events: an event the second read
	// does not see, although it is at or before last, was pruned.
	last, err := st.LastEvent(ctx, w.Tenant)
	if err != nil {
		d.storeFailed(holder, "last event", err)
		return // the lease runs out and the webhook is taken again
	}
	evs, err := st.Events(ctx, w.Tenant, meta.EventQuery{After: w.Cursor, Limit: 100})
	if err != nil {
		d.storeFailed(holder, "events", err)
		return
	}
	past := w.Cursor // the last event passed over
	var ev *meta.Event
	for i := range evs {
		if Takes(w, evs[i].Type) {
			ev = &evs[i]
			break
		}
		past = evs[i].Seq
	}
	if ev == nil {
		if len(evs) == 0 && last > w.Cursor {
			d.cfg.Logger.Warn("webhooks: events after the cursor were pruned before delivery", "webhook", w.ID,
				"tenant", w.Tenant, "from", w.Cursor+1, "to", last)
			past = last
		}
		d.record(ctx, holder, w, meta.WebhookResult{Seq: past, Delivered: true})
		return
	}
	body, err := d.cfg.Payload(*ev)
	if err != nil {
		d.record(ctx, holder, w, d.failed(w, *ev, fmt.Errorf("the event could not be encoded: %v", err)))
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(shutdownGrace, cancel) })
	defer stop()
	res := d.send.Send(sctx, w.URL, w.Secret, EventID(*ev), body)
	if res.OK() {
		d.cfg.Logger.Debug("webhooks: delivered", "webhook", w.ID, "event", EventID(*ev), "type", ev.Type,
			"status", res.Status, "took", res.Duration)
		d.record(ctx, holder, w, meta.WebhookResult{Seq: ev.Seq, Delivered: true})
		return
	}
	r := d.failed(w, *ev, res.Err)
	if ctx.Err() != nil {
		r.NextAttemptAt = time.Now() // cut off by a shutdown: not the receiver's doing
		r.Error = "interrupted: the server stopped mid-delivery"
	}
	d.record(ctx, holder, w, r)
}

// failed returns the result of a failed attempt at ev: the next attempt
// after the pause its number calls for, and the webhook failing once ev
// is older than RetryFor.
func (d *Dispatcher) failed(w meta.Webhook, ev meta.Event, err error) meta.WebhookResult {
	failing := time.Since(ev.At) > d.cfg.RetryFor
	delay := d.delay(w.Attempts+1, failing)
	lvl := slog.LevelInfo
	if failing && w.FailingSince == nil {
		lvl = slog.LevelWarn
	}
	d.cfg.Logger.Log(context.Background(), lvl, "webhooks: delivery failed", "webhook", w.ID, "tenant", w.Tenant,
		"event", EventID(ev), "attempt", w.Attempts+1, "retry_in", delay.Round(time.Millisecond), "failing", failing, "err", err)
	if delay <= time.Minute {
		time.AfterFunc(delay, d.Notify)
	}
	return meta.WebhookResult{Seq: ev.Seq, NextAttemptAt: time.Now().Add(delay), Failing: failing, Error: err.Error()}
}

// delay returns the pause after the attempt-th failed attempt (from 1):
// RetryDelays' entry, the last for later ones and once failing, within
// ±20%.
func (d *Dispatcher) delay(attempt int, failing bool) time.Duration {
	ds := d.cfg.RetryDelays
	base := ds[len(ds)-1]
	if !failing && attempt-1 < len(ds) {
		base = ds[max(attempt-1, 0)]
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(401))
	return base * time.Duration(800+n.Int64()) / 1000
}

// record records r for w, past the end of Run's context (what the
// receiver took must not be sent again for want of a record).
func (d *Dispatcher) record(ctx context.Context, holder string, w meta.Webhook, r meta.WebhookResult) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := d.cfg.Store.RecordDelivery(rctx, w.ID, holder, r)
	switch {
	case err == nil:
	case errors.Is(err, meta.ErrNotFound): // removed meanwhile
	case errors.Is(err, meta.ErrConflict):
		d.cfg.Logger.Warn("webhooks: the lease ran out mid-delivery and another worker took the webhook; the event may be delivered twice",
			"webhook", w.ID, "lease", d.cfg.Lease)
	default:
		d.storeFailed(holder, "record delivery", err)
	}
}

// Takes reports whether w receives events of type t.
func Takes(w meta.Webhook, t meta.EventType) bool {
	return len(w.Types) == 0 || slices.Contains(w.Types, t)
}

// EventID is the webhook-id of an event: "evt_", 8 hex digits of its
// tenant's hash, "_" and its Seq. It is the same at every attempt and
// for every webhook of the tenant, and no two events share it, so that a
// receiver can tell a retry from a new event.
func EventID(ev meta.Event) string {
	h := sha256.Sum256([]byte(ev.Tenant))
	return "evt_" + hex.EncodeToString(h[:4]) + "_" + strconv.FormatInt(ev.Seq, 10)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
