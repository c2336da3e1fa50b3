package meta

import (
	"context"
	"time"
)

// EventType is what happened to a file.
type EventType string

// The events a file's life makes, one per change of its status.
const (
	// EventCreated: a new record (Claim or ClaimAll that created it).
	EventCreated EventType = "file.created"
	// EventUploaded: a Transition to uploaded.
	EventUploaded EventType = "file.uploaded"
	// EventFailed: a Transition to failed.
	EventFailed EventType = "file.failed"
	// EventDeleted: a Delete, or a DeleteStale that deleted.
	EventDeleted EventType = "file.deleted"
)

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
	File   File // the record as the change left it (as it was, for a delete)
	At     time.Time
}

// EventQuery selects a tenant's events: those after After (a Seq), of the
// Types listed (all when empty), at most Limit of them, in Seq order.
type EventQuery struct {
	After int64
	Types []EventType
	Limit int
}

// EventLog is implemented by stores that keep, per tenant, the log of the
// events of its files' lives (every shipped store). Each event is written
// by the same transaction as the change it reports: a change that commits
// has its event, and one that does not has none.
type EventLog interface {
	// Events returns the tenant's events selected by q.
	Events(ctx context.Context, tenant string, q EventQuery) ([]Event, error)
	// LastEvent returns the Seq of the tenant's latest event, 0 if none.
	LastEvent(ctx context.Context, tenant string) (int64, error)
	// PruneEvents removes the events of every tenant made before before,
	// and returns how many. A tenant's latest Seq is never reused.
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
	// WatchEvents calls fn with the tenant and Seq of each event that
	// commits, in this process or, where the store is shared, in any
	// other, soon after it does, until ctx ends or the store cannot go on
	// watching (then it returns why). Events that commit while no watch
	// runs are not replayed: readers read the log (Events) for them.
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
type Webhooks interface {
	// PutWebhook stores a new webhook; its Cursor is the tenant's latest
	// Seq at that moment (it receives what comes after).
	PutWebhook(ctx context.Context, w Webhook) (Webhook, error)
	// Webhooks lists the tenant's webhooks, oldest first.
	Webhooks(ctx context.Context, tenant string) ([]Webhook, error)
	// DeleteWebhook removes the tenant's webhook, or ErrNotFound.
	DeleteWebhook(ctx context.Context, tenant, id string) error
	// TakeWebhook leases to holder, for lease, one webhook that has events
	// after its cursor, is due (NextAttemptAt passed) and is not leased to
	// another holder; false when there is none.
	TakeWebhook(ctx context.Context, holder string, lease time.Duration) (Webhook, bool, error)
	// RecordDelivery records r for the webhook holder leased, and ends the
	// lease; ErrConflict if holder's lease was lost (another holder took
	// it), ErrNotFound if the webhook was deleted.
	RecordDelivery(ctx context.Context, id, holder string, r WebhookResult) error
}
