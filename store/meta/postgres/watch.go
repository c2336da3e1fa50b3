package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/perseus-go/perseus/store/meta"
)

var _ meta.Watcher = (*Store)(nil)

// channel is the NOTIFY channel on which Transition announces the id of the
// file it changed, in the same statement, so the notice goes out when (and
// only if) the change commits.
const channel = "perseus_file_status"

// Watch implements meta.Watcher with LISTEN on a connection of its own,
// outside the pool.
func (s *Store) Watch(ctx context.Context, fn func(id string)) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("postgres: watch: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("postgres: watch: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("postgres: watch: %w", err)
		}
		fn(n.Payload)
	}
}
