package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// durable are the PostgreSQL settings under which a commit is on disk when
// it returns.
var durable = map[string]string{"fsync": "on", "synchronous_commit": "on"}

// pgSet is one setting as PostgreSQL had it.
type pgSet struct{ name, value, source, file string }

// pgDurable sets fsync and synchronous_commit on in the PostgreSQL at base
// (ALTER SYSTEM, then a reload) and returns a func that puts back what was
// there. It changes nothing, and says why, when the role is no superuser
// or when a setting comes from somewhere ALTER SYSTEM cannot override (the
// server's command line: scripts/lib/postgres.sh passes -c fsync=off).
func pgDurable(ctx context.Context, base string) (restore func(), err error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		return nil, err
	}
	if !super {
		return nil, errors.New("the PostgreSQL role is no superuser, so it cannot ALTER SYSTEM")
	}
	rows, err := conn.Query(ctx, "SELECT name, setting, source, coalesce(sourcefile, '') FROM pg_settings WHERE name = ANY($1)",
		[]string{"fsync", "synchronous_commit"})
	if err != nil {
		return nil, err
	}
	was, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (s pgSet, err error) {
		return s, r.Scan(&s.name, &s.value, &s.source, &s.file)
	})
	if err != nil {
		return nil, err
	}
	for _, s := range was {
		if s.source != "default" && s.source != "configuration file" {
			return nil, fmt.Errorf("%s=%s comes from the PostgreSQL server's %s, which ALTER SYSTEM cannot override", s.name, s.value, s.source)
		}
	}
	restore = func() {
		ctx := context.Background()
		want := map[string]string{}
		var stmts []string
		for _, s := range was {
			want[s.name] = s.value
			if s.source == "configuration file" && strings.HasSuffix(s.file, "postgresql.auto.conf") {
				stmts = append(stmts, fmt.Sprintf("ALTER SYSTEM SET %s = '%s'", s.name, strings.ReplaceAll(s.value, "'", "''")))
			} else {
				stmts = append(stmts, "ALTER SYSTEM RESET "+s.name)
			}
		}
		if err := pgApply(ctx, base, stmts, want); err != nil {
			logf("PostgreSQL: putting back %v: %v", want, err)
		}
	}
	var stmts []string
	for name, v := range durable {
		stmts = append(stmts, fmt.Sprintf("ALTER SYSTEM SET %s = '%s'", name, v))
	}
	if err := pgApply(ctx, base, stmts, durable); err != nil {
		restore()
		return nil, err
	}
	logf("PostgreSQL: fsync and synchronous_commit on for these rows")
	return restore, nil
}

// pgApply runs stmts, reloads the configuration and waits until new
// sessions see the settings in want.
func pgApply(ctx context.Context, base string, stmts []string, want map[string]string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, s := range append(stmts, "SELECT pg_reload_conf()") {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := map[string]string{}
		for name := range want {
			got[name] = pgSetting(ctx, base, name)
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after a reload PostgreSQL has %v, not %v", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
