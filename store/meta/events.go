package meta

import (
	"context"
	"time"
)

// EventType is what happened to a file.
type EventType string

// The events a file's life makes, one per change of its status.
const (
	// EventCreated: a new record (Claim or ClaimAll that created it). A
	// claim that finds the record makes none, also when it resets a failed
	// record to pending: the upload that follows reports itself
	// (file.uploaded or file.failed).
	EventCreated EventType = "file.created"
	// EventUploaded: a Transition to uploaded from another status.
	EventUploaded EventType = "file.uploaded"
	// EventFailed: a Transition to failed from another status.
	EventFailed EventType = "file.failed"
	// EventDeleted: a Delete, or a DeleteStale that deleted.
	EventDeleted EventType = "file.deleted"
)

// Event returns the type of the event a Transition applying u makes, or
// "" when it makes none: a Transition to uploaded or failed makes one
// when it changes the status (From is another), and any other (a pending
// → pending touch, a status kept, a move back to pending) makes none.
func (u Update) Event() EventType {
	if u.From == u.To {
		return ""
	}
	switch u.To {
	case StatusUploaded:
		return EventUploaded
	case StatusFailed:
		return EventFailed
	}
	return ""
}

// EventTypes are every event type, in the order of a file's life.
var EventTypes = []EventType{EventCreated, EventUploaded, EventFailed, EventDeleted}

// Event is one entry of a tenant's event log.
type Event struct {
	// Seq orders the tenant's events: 1, 2, 3… in the order their
	// transactions committed, with no gap left by a transaction that
	// committed later, so that a reader that has seen Seq n has seen
	// every event before it, and resumes after n.
	Seq    int64
	Tenant string
	Type   EventType
	File   File      // the record as the change left it (as it was, for a delete)
	At     time.Time // when the change was made: the record's UpdatedAt, or the time of the delete
}

// EventQuery selects a tenant's events: those after After (a Seq), of the
// Types listed (all when empty), at most Limit of them, in Seq order.
// A Limit below 1 asks for DefaultEventLimit; one above MaxEventLimit is
// cut to it (see PageSize).
type EventQuery struct {
	After int64
	Types []EventType
	Limit int
}

// The bounds of EventQuery.Limit.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// PageSize returns how many events q asks for at most: its Limit, or
// DefaultEventLimit when that is below 1, and never more than MaxEventLimit.
func (q EventQuery) PageSize() int {
	switch {
	case q.Limit < 1:
		return DefaultEventLimit
	case q.Limit > MaxEventLimit:
		return MaxEventLimit
	}
	return q.Limit
}

// EventLog is implemented by stores that keep, per tenant, the log of the
// events of its files' lives (every shipped store). Each event is written
// by the same transaction as the change it reports: a change that commits
// has its event, and one that does not (a Transition that answers
// ErrConflict, a Delete that answers ErrNotFound) has none. The changes
// of one ClaimAll are one transaction, whose events (one per record it
// created) follow one another in the order of the files given.
type EventLog interface {
	// Events returns the tenant's events selected by q, read from an
	// index of the tenant's events in Seq order.
	Events(ctx context.Context, tenant string, q EventQuery) ([]Event, error)
	// LastEvent returns the Seq of the tenant's latest event, 0 if none
	// (pruned events count: it is the Seq the next event follows).
	LastEvent(ctx context.Context, tenant string) (int64, error)
	// PruneEvents removes the events of every tenant whose At is before
	// before, a batch at a time (so that it never holds up the changes
	// that write events for long), and returns how many. A tenant's latest
	// Seq is never reused: its next event follows it.
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
	// WatchEvents calls fn with the tenant and Seq of each event that
	// commits, in this process or, where the store is shared, in any
	// other, soon after it does, until ctx ends or the store cannot go on
	// watching (then it returns why). Events that commit while no watch
	// runs are not replayed: readers read the log (Events) for them.
	//
	// The news is a wake-up call, not the log: it is sent once the event
	// has committed, so it may come out of Seq order, and, rarely, not at
	// all (a shared store's process that stops right after a commit takes
	// the news of it along). A reader woken reads the log after the last
	// Seq it has read, and one that must not wait for the next event
	// reads it now and then as well.
	//
	// fn is called from one goroutine of the store, one call at a time;
	// it must return soon (hand the news on, to a channel say): a slow fn
	// delays the news of every watch, and on PostgreSQL the lock requests
	// of Locker too.
	WatchEvents(ctx context.Context, fn func(tenant string, seq int64)) error
}

// Webhook is one endpoint a tenant registered to receive its events.
type Webhook struct {
	ID        string
	Tenant    string
	URL       string
	Types     []EventType // the events it receives; all when empty
	Secret    string      // the signing secret (Standard Webhooks: "whsec_" + base64)
	CreatedAt time.Time

	// Delivery state. Cursor is the Seq of the tenant's last event the
	// endpoint has acknowledged (or that it does not take); events after
	// it are its outbox, delivered in order, at least once.
	Cursor        int64
	Attempts      int        // failed attempts at the event after Cursor
	NextAttemptAt time.Time  // not before
	FailingSince  *time.Time // set once deliveries failed past the retry window
	LastError     string
}

// WebhookResult is how one delivery attempt of a webhook's next event
// ended: Delivered moves its cursor on to Seq; otherwise the attempt
// failed, and the webhook waits until NextAttemptAt.
type WebhookResult struct {
	Seq           int64
	Delivered     bool
	NextAttemptAt time.Time
	Failing       bool // the retry window has passed: mark the endpoint failing
	Error         string
}

// Webhooks is implemented by stores that keep webhook endpoints and their
// delivery state (every shipped store). Deliveries are leased: a replica
// that takes a webhook (TakeWebhook) is the only one sending its events
// until its lease ends, so each delivery is sent by one replica, and a
// replica that dies mid-delivery leaves it to another once its lease ends.
//
// The times the store compares and sets itself (when a webhook is due,
// when a lease ends, FailingSince) are the database server's clock on a
// store that processes share (PostgreSQL), so that replicas whose clocks
// disagree still agree on leases; the process's otherwise.
type Webhooks interface {
	// PutWebhook stores a new webhook, w with its ID (given by the caller;
	// ErrExists if another has it), Tenant, URL, Types, Secret and
	// CreatedAt (now when zero); it is due at once, and its Cursor is the
	// tenant's latest Seq at that moment, read in the transaction that
	// stores it (it receives what comes after). It returns the webhook
	// stored.
	PutWebhook(ctx context.Context, w Webhook) (Webhook, error)
	// Webhooks lists the tenant's webhooks, oldest first.
	Webhooks(ctx context.Context, tenant string) ([]Webhook, error)
	// DeleteWebhook removes the tenant's webhook, or ErrNotFound.
	DeleteWebhook(ctx context.Context, tenant, id string) error
	// TakeWebhook leases to holder, for lease, one webhook that has events
	// after its cursor, is due (NextAttemptAt passed) and is not leased
	// (never, or its lease has ended), the one due the longest; false when
	// there is none. Concurrent calls, from any process, never lease one
	// webhook to two holders at once. holder must not be empty, and should
	// be unique to the caller (a replica's id and a random part, say).
	TakeWebhook(ctx context.Context, holder string, lease time.Duration) (Webhook, bool, error)
	// RecordDelivery records r for the webhook holder leased, and ends the
	// lease; ErrConflict if holder's lease was lost (another holder took
	// it), ErrNotFound if the webhook was deleted. A lease that ended but
	// that nobody took since is not lost. Delivered moves Cursor to r.Seq
	// and clears Attempts, FailingSince and LastError; a failure counts
	// one more attempt, sets NextAttemptAt and LastError from r, and
	// FailingSince to now if r.Failing and it is not set yet.
	RecordDelivery(ctx context.Context, id, holder string, r WebhookResult) error
}
