package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrate creates the tables of a new database and brings those of an
// older one up to date, in one transaction. The store's connections begin
// IMMEDIATE (_txlock), so stores opening one file at once, in any process,
// take turns: each finds the schema either as it was or as it is, never half
// made, and the work is done once.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Every table and index after files.kind's is made IF NOT EXISTS, so a
	// database made before them gets them here.
	for _, ddl := range []string{schema, eventsSchema, webhooksSchema} {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return err
		}
	}
	if err := addKind(ctx, tx); err != nil {
		return fmt.Errorf("files.kind: %w", err)
	}
	return tx.Commit()
}

// addKind adds files.kind to a table made before it existed, which it tells
// by the column's absence from the table's description (a new table has it
// from schema). Before the column, a streamed record was marked by its
// UUID's version digit, set to 8 (index 14 of the 36-character id), and by
// nothing else: the records made that way are streamed. The length test is
// the one the server made, so that an id of another shape stays hashed, as
// it was.
func addKind(ctx context.Context, tx *sql.Tx) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('files') WHERE name = 'kind'`).Scan(&n); err != nil || n > 0 {
		return err
	}
	for _, q := range []string{
		`ALTER TABLE files ADD COLUMN kind ` + kindColumn,
		`UPDATE files SET kind = 'streamed' WHERE length(id) = 36 AND substr(id, 15, 1) = '8'`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
