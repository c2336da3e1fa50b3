-- How a file's content arrives, which decides where it is kept: 'hashed'
-- (created from a declared SHA-256, kept under that hash) or 'streamed'
-- (its bytes arrived before their hash was known, kept under the id).
-- Adding a column with a constant default rewrites no row, though the CHECK
-- reads each once; the UPDATE below rewrites the streamed ones only.
ALTER TABLE files ADD COLUMN kind text NOT NULL DEFAULT 'hashed' CHECK (kind IN ('hashed', 'streamed'));
-- Before this migration a streamed record was marked by its UUID's version
-- digit, set to 8 (index 14 of the 36-character id), and by nothing else:
-- the records made that way are streamed. The length test is the one the
-- server made, so that an id of another shape stays hashed, as it was.
UPDATE files SET kind = 'streamed' WHERE length(id) = 36 AND substr(id, 15, 1) = '8';
-- An upgrade across this migration stops every replica of the older
-- version first: one still running would go on making streamed records
-- marked by their id alone, which this backfill, run once, never sees.
