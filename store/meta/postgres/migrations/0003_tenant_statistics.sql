-- No planner statistics for tenant. They describe only the tenants seen at
-- the last ANALYZE, and for any other (a new tenant; every tenant on a new
-- table until autovacuum gets to it) PostgreSQL estimates a single row and
-- then prefers the list index (tenant, created_at, id), walking all of
-- that tenant's files, over the keyed lookups: Find by hash through
-- (tenant, source_hash), Get through the primary key. Bench row 6 showed
-- it: Find took 5 to 22 ms instead of 0.03 ms on a new table. Without
-- statistics the planner assumes a modest share of the rows per tenant,
-- and every query takes its key.
--
-- Statistics already collected would stay (ANALYZE no longer touches the
-- column): changing the column's type, to the type it has, drops them
-- without rewriting the table.
ALTER TABLE files ALTER COLUMN tenant TYPE text;
ALTER TABLE files ALTER COLUMN tenant SET STATISTICS 0;
