-- The event log of each tenant (meta.EventLog) and the webhooks that
-- deliver it (meta.Webhooks).
--
-- event_seq holds each tenant's latest Seq. A change that makes an event
-- increments its tenant's row in the statement (and so the transaction)
-- of the change, and writes the event with that Seq: the row stays locked
-- until the transaction ends, so a tenant's events commit one after the
-- other, in the order of their Seqs, with no gap (see withEvent in
-- events.go). A sequence would not do: its values commit in any order.
-- The row outlives the tenant's events (PruneEvents), so that no Seq is
-- made twice.
CREATE TABLE event_seq (
	tenant text PRIMARY KEY,
	last   bigint NOT NULL
);

-- One row per event: the event, then the record as the change left it (as
-- it was, for a delete). Events reads a tenant's from the primary key, in
-- Seq order; PruneEvents finds the old ones through events_at.
CREATE TABLE events (
	tenant      text NOT NULL,
	seq         bigint NOT NULL,
	type        text NOT NULL CHECK (type IN ('file.created', 'file.uploaded', 'file.failed', 'file.deleted')),
	at          timestamptz NOT NULL,
	file_id     text NOT NULL,
	name        text NOT NULL,
	source_hash text NOT NULL,
	kind        text NOT NULL,
	status      text NOT NULL,
	size        bigint NOT NULL,
	reason      text NOT NULL,
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL,
	PRIMARY KEY (tenant, seq)
);
CREATE INDEX events_at ON events (at);

-- A tenant's webhook endpoints, and the state of their deliveries: cursor
-- is the Seq of the last event the endpoint acknowledged, and a replica
-- delivering its next events holds it leased (lease_holder, lease_until).
-- Webhooks lists a tenant's from webhooks_tenant_created; TakeWebhook
-- looks for the ones due through webhooks_due.
CREATE TABLE webhooks (
	id              text PRIMARY KEY,
	tenant          text NOT NULL,
	url             text NOT NULL,
	types           text[] NOT NULL DEFAULT '{}',
	secret          text NOT NULL,
	created_at      timestamptz NOT NULL,
	cursor          bigint NOT NULL DEFAULT 0,
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL,
	failing_since   timestamptz,
	last_error      text NOT NULL DEFAULT '',
	lease_holder    text NOT NULL DEFAULT '',
	lease_until     timestamptz
);
CREATE INDEX webhooks_tenant_created ON webhooks (tenant, created_at, id);
CREATE INDEX webhooks_due ON webhooks (next_attempt_at);
