package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/perseus-go/perseus/store/meta"
)

var _ meta.Webhooks = (*Store)(nil)

// The webhooks' times the store sets or compares itself (when a webhook is
// due, a lease's end, failing_since) are the database's now(), so that
// replicas agree on leases whatever their clocks say.

const webhookCols = `id, tenant, url, types, secret, created_at, cursor, attempts, next_attempt_at, failing_since, last_error`

func scanWebhook(r pgx.Row) (meta.Webhook, error) {
	var w meta.Webhook
	var types []string
	err := r.Scan(&w.ID, &w.Tenant, &w.URL, &types, &w.Secret, &w.CreatedAt, &w.Cursor, &w.Attempts,
		&w.NextAttemptAt, &w.FailingSince, &w.LastError)
	w.Types = make([]meta.EventType, len(types))
	for i, t := range types {
		w.Types[i] = meta.EventType(t)
	}
	w.CreatedAt, w.NextAttemptAt = w.CreatedAt.UTC(), w.NextAttemptAt.UTC()
	if w.FailingSince != nil {
		t := w.FailingSince.UTC()
		w.FailingSince = &t
	}
	return w, err
}

// PutWebhook implements meta.Webhooks. The cursor is read from the
// tenant's counter by the INSERT: an event whose transaction has not
// committed yet is after it.
func (s *Store) PutWebhook(ctx context.Context, w meta.Webhook) (meta.Webhook, error) {
	types := make([]string, len(w.Types))
	for i, t := range w.Types {
		types[i] = string(t)
	}
	var created any
	if !w.CreatedAt.IsZero() {
		created = w.CreatedAt.UTC()
	}
	got, err := scanWebhook(s.pool.QueryRow(ctx, `
INSERT INTO webhooks (id, tenant, url, types, secret, created_at, cursor, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, coalesce($6::timestamptz, now()), coalesce((SELECT last FROM event_seq WHERE tenant = $2), 0), now())
RETURNING `+webhookCols, w.ID, w.Tenant, w.URL, types, w.Secret, created))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return meta.Webhook{}, meta.ErrExists
	}
	return got, wrap("put webhook", err)
}

// Webhooks implements meta.Webhooks.
func (s *Store) Webhooks(ctx context.Context, tenant string) ([]meta.Webhook, error) {
	if !storable(tenant) {
		return []meta.Webhook{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE tenant = $1 ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, wrap("webhooks", err)
	}
	hooks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Webhook, error) { return scanWebhook(r) })
	return hooks, wrap("webhooks", err)
}

// DeleteWebhook implements meta.Webhooks.
func (s *Store) DeleteWebhook(ctx context.Context, tenant, id string) error {
	if !storable(id) || !storable(tenant) {
		return meta.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhooks WHERE id = $1 AND tenant = $2`, id, tenant)
	if err != nil {
		return wrap("delete webhook", err)
	}
	if tag.RowsAffected() == 0 {
		return meta.ErrNotFound
	}
	return nil
}

// TakeWebhook implements meta.Webhooks in one statement: the subquery
// finds the webhook due the longest (webhooks_due) whose tenant's counter
// is past its cursor and that no lease holds, and locks it, skipping the
// rows other TakeWebhooks have locked; the UPDATE leases it. A row another
// took meanwhile is checked again once locked, and passed over.
func (s *Store) TakeWebhook(ctx context.Context, holder string, lease time.Duration) (meta.Webhook, bool, error) {
	if holder == "" || !storable(holder) {
		return meta.Webhook{}, false, errors.New("postgres: take webhook: the holder must be non-empty UTF-8 without NUL")
	}
	w, err := scanWebhook(s.pool.QueryRow(ctx, `
UPDATE webhooks SET lease_holder = $1, lease_until = now() + $2 * interval '1 microsecond'
WHERE id = (
	SELECT w.id FROM webhooks w JOIN event_seq q ON q.tenant = w.tenant
	WHERE q.last > w.cursor AND w.next_attempt_at <= now() AND (w.lease_holder = '' OR w.lease_until < now())
	ORDER BY w.next_attempt_at, w.id LIMIT 1
	FOR UPDATE OF w SKIP LOCKED
)
RETURNING `+webhookCols, holder, lease.Microseconds()))
	if errors.Is(err, pgx.ErrNoRows) {
		return meta.Webhook{}, false, nil
	}
	if err != nil {
		return meta.Webhook{}, false, wrap("take webhook", err)
	}
	return w, true, nil
}

// RecordDelivery implements meta.Webhooks. The UPDATE applies only while
// holder holds the lease; when it applies to nothing, a second query
// tells a lost lease from a deleted webhook.
func (s *Store) RecordDelivery(ctx context.Context, id, holder string, r meta.WebhookResult) error {
	if !storable(id) {
		return meta.ErrNotFound
	}
	if holder == "" || !storable(holder) {
		return s.lostLease(ctx, id) // no holder has that name
	}
	var next any
	if !r.Delivered {
		next = r.NextAttemptAt.UTC()
	}
	tag, err := s.pool.Exec(ctx, `
UPDATE webhooks SET
	cursor = CASE WHEN $3 THEN $4 ELSE cursor END,
	attempts = CASE WHEN $3 THEN 0 ELSE attempts + 1 END,
	next_attempt_at = coalesce($5::timestamptz, next_attempt_at),
	failing_since = CASE WHEN $3 THEN NULL WHEN $6 THEN coalesce(failing_since, now()) ELSE failing_since END,
	last_error = CASE WHEN $3 THEN '' ELSE $7 END,
	lease_holder = '', lease_until = NULL
WHERE id = $1 AND lease_holder = $2`, id, holder, r.Delivered, r.Seq, next, r.Failing, r.Error)
	if err != nil {
		return wrap("record delivery", err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	return s.lostLease(ctx, id)
}

// lostLease returns why a delivery of webhook id was not recorded:
// ErrConflict if the webhook is there (its lease is another's, or
// nobody's), ErrNotFound if not.
func (s *Store) lostLease(ctx context.Context, id string) error {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM webhooks WHERE id = $1)`, id).Scan(&ok); err != nil {
		return wrap("record delivery", err)
	}
	if ok {
		return meta.ErrConflict
	}
	return meta.ErrNotFound
}
