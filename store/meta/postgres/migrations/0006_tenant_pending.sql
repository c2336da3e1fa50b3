-- Usage counts a tenant's pending files for the files quota. This index
-- holds pending files only, which the sweeper keeps few, so the count
-- walks just the tenant's; its uploaded files are counted and summed from
-- files_tenant_size_uploaded (migration 0004), which holds their sizes.
--
-- Like the others, it is built inside the migration's transaction and
-- holds writes to files while it reads the table once: about half a second
-- per million files here. IF NOT EXISTS lets an operator of a large table
-- build it beforehand, with CREATE INDEX CONCURRENTLY and this definition.
CREATE INDEX IF NOT EXISTS files_tenant_pending ON files (tenant) WHERE status = 'pending';
