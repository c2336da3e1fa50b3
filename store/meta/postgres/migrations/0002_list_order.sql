-- List pages through a tenant's files newest first, ties broken by id, both
-- descending: an index in exactly that order serves it without a sort. It
-- replaces files_tenant_created, whose id column ran the other way.
CREATE INDEX files_tenant_created_id ON files (tenant, created_at DESC, id DESC);
DROP INDEX files_tenant_created;
