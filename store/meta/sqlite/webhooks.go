package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/perseus-go/perseus/store/meta"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

var _ meta.Webhooks = (*Store)(nil)

// webhooksSchema is the tenants' webhook endpoints and the state of their
// deliveries: cursor is the Seq of the last event the endpoint
// acknowledged, and whoever delivers its next events holds it leased
// (lease_holder, lease_until). types is a JSON array. Webhooks lists a
// tenant's from webhooks_tenant_created; TakeWebhook looks for the ones
// due through webhooks_due.
const webhooksSchema = `
CREATE TABLE IF NOT EXISTS webhooks (
	id              TEXT PRIMARY KEY,
	tenant          TEXT NOT NULL,
	url             TEXT NOT NULL,
	types           TEXT NOT NULL DEFAULT '[]',
	secret          TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	cursor          INTEGER NOT NULL DEFAULT 0,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	failing_since   INTEGER,
	last_error      TEXT NOT NULL DEFAULT '',
	lease_holder    TEXT NOT NULL DEFAULT '',
	lease_until     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhooks_tenant_created ON webhooks (tenant, created_at, id);
CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks (next_attempt_at);
`

const webhookCols = `id, tenant, url, types, secret, created_at, cursor, attempts, next_attempt_at, failing_since, last_error`

func scanWebhook(r scanner) (meta.Webhook, error) {
	var w meta.Webhook
	var types string
	var created, next int64
	var failing sql.NullInt64
	err := r.Scan(&w.ID, &w.Tenant, &w.URL, &types, &w.Secret, &created, &w.Cursor, &w.Attempts, &next, &failing, &w.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		return w, meta.ErrNotFound
	}
	if err != nil {
		return w, err
	}
	w.Types = []meta.EventType{}
	if err := json.Unmarshal([]byte(types), &w.Types); err != nil {
		return w, err
	}
	w.CreatedAt, w.NextAttemptAt = time.UnixMilli(created).UTC(), time.UnixMilli(next).UTC()
	if failing.Valid {
		t := time.UnixMilli(failing.Int64).UTC()
		w.FailingSince = &t
	}
	return w, nil
}

// PutWebhook implements meta.Webhooks. The cursor is read from the
// tenant's counter in the writer's transaction, so no event comes between.
func (s *Store) PutWebhook(ctx context.Context, w meta.Webhook) (meta.Webhook, error) {
	types := w.Types
	if types == nil {
		types = []meta.EventType{}
	}
	typesJSON, err := json.Marshal(types)
	if err != nil {
		return meta.Webhook{}, wrap("put webhook", err)
	}
	now := ms(time.Now())
	created := now
	if !w.CreatedAt.IsZero() {
		created = ms(w.CreatedAt)
	}
	var got meta.Webhook
	err = s.w.do(ctx, func(wr *writer) (err error) {
		got, err = scanWebhook(wr.queryRow(`
INSERT INTO webhooks (id, tenant, url, types, secret, created_at, cursor, next_attempt_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, coalesce((SELECT last FROM event_seq WHERE tenant = ?2), 0), ?7)
RETURNING `+webhookCols, w.ID, w.Tenant, w.URL, string(typesJSON), w.Secret, created, now))
		return err
	})
	var se *sqlite3.Error
	if errors.As(err, &se) && (se.Code() == sqlite3lib.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return meta.Webhook{}, meta.ErrExists
	}
	return got, wrap("put webhook", err)
}

// Webhooks implements meta.Webhooks.
func (s *Store) Webhooks(ctx context.Context, tenant string) ([]meta.Webhook, error) {
	rows, err := s.query(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE tenant = ? ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, wrap("webhooks", err)
	}
	defer rows.Close()
	hooks := []meta.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, wrap("webhooks", err)
		}
		hooks = append(hooks, w)
	}
	return hooks, wrap("webhooks", rows.Err())
}

// DeleteWebhook implements meta.Webhooks.
func (s *Store) DeleteWebhook(ctx context.Context, tenant, id string) error {
	var n int64
	err := s.w.do(ctx, func(w *writer) error {
		res, err := w.exec(`DELETE FROM webhooks WHERE id = ? AND tenant = ?`, id, tenant)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	if err != nil {
		return wrap("delete webhook", err)
	}
	if n == 0 {
		return meta.ErrNotFound
	}
	return nil
}

// TakeWebhook implements meta.Webhooks as one write of the writer, which
// applies one at a time: the webhook due the longest (webhooks_due) whose
// tenant's counter is past its cursor and that no lease holds is leased.
func (s *Store) TakeWebhook(ctx context.Context, holder string, lease time.Duration) (meta.Webhook, bool, error) {
	if holder == "" {
		return meta.Webhook{}, false, errors.New("sqlite: take webhook: the holder must not be empty")
	}
	var got meta.Webhook
	err := s.w.do(ctx, func(w *writer) (err error) {
		now := time.Now()
		got, err = scanWebhook(w.queryRow(`
UPDATE webhooks SET lease_holder = ?1, lease_until = ?2
WHERE id = (
	SELECT w.id FROM webhooks w JOIN event_seq q ON q.tenant = w.tenant
	WHERE q.last > w.cursor AND w.next_attempt_at <= ?3 AND (w.lease_holder = '' OR w.lease_until < ?3)
	ORDER BY w.next_attempt_at, w.id LIMIT 1
)
RETURNING `+webhookCols, holder, ms(now.Add(lease)), ms(now)))
		return err
	})
	if errors.Is(err, meta.ErrNotFound) {
		return meta.Webhook{}, false, nil
	}
	if err != nil {
		return meta.Webhook{}, false, wrap("take webhook", err)
	}
	return got, true, nil
}

// RecordDelivery implements meta.Webhooks: the update applies only while
// holder holds the lease; when it applies to nothing, the same write
// tells a lost lease from a deleted webhook.
func (s *Store) RecordDelivery(ctx context.Context, id, holder string, r meta.WebhookResult) error {
	err := s.w.do(ctx, func(w *writer) error {
		now := ms(time.Now())
		var res sql.Result
		var err error
		if r.Delivered {
			res, err = w.exec(`UPDATE webhooks SET cursor = ?, attempts = 0, failing_since = NULL, last_error = '',
	lease_holder = '', lease_until = 0
WHERE id = ? AND lease_holder = ? AND lease_holder <> ''`, r.Seq, id, holder)
		} else {
			res, err = w.exec(`UPDATE webhooks SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
	failing_since = CASE WHEN ? THEN coalesce(failing_since, ?) ELSE failing_since END,
	lease_holder = '', lease_until = 0
WHERE id = ? AND lease_holder = ? AND lease_holder <> ''`, ms(r.NextAttemptAt), r.Error, r.Failing, now, id, holder)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var n int
		if err := w.queryRow(`SELECT count(*) FROM webhooks WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return meta.ErrConflict
		}
		return meta.ErrNotFound
	})
	return wrap("record delivery", err)
}
