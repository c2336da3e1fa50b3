-- Files and API keys, as meta.Store describes them.
CREATE TABLE files (
	id          text PRIMARY KEY,
	tenant      text NOT NULL,
	name        text NOT NULL,
	source_hash text NOT NULL,
	status      text NOT NULL CHECK (status IN ('pending', 'uploaded', 'failed')),
	size        bigint NOT NULL DEFAULT 0,
	reason      text NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL,
	UNIQUE (tenant, source_hash)
);
CREATE INDEX files_status_updated ON files (status, updated_at);
CREATE INDEX files_tenant_created ON files (tenant, created_at DESC, id);

CREATE TABLE api_keys (
	id         text PRIMARY KEY,
	tenant     text NOT NULL,
	hash       text NOT NULL UNIQUE,
	created_at timestamptz NOT NULL,
	revoked_at timestamptz
);
