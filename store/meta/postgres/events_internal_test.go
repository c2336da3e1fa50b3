package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/metatest"
)

// TestEventSeqsCommitInOrder holds open the transaction of a change that
// made an event, as a replica that stalls before its commit would: a
// second change of the tenant that makes an event waits for it (it cannot
// commit Seq 2 while Seq 1 may still commit), readers see neither, and
// once the first commits both are read in order. When the first rolls
// back instead, the waiting change takes its Seq: no gap is left.
func TestEventSeqsCommitInOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, testenv.PostgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const tenant = "t1"
	newFile := func(content string) meta.File {
		return meta.File{ID: metatest.NewID(), Tenant: tenant, Name: content, SourceHash: metatest.Hash(content), CreatedAt: now()}
	}
	// stalled claims f in a transaction left open, and returns it.
	stalled := func(f meta.File) pgx.Tx {
		t.Helper()
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, inserted, _, err := scanClaim(tx.QueryRow(ctx, claimSQL, claimArgs(f, now())...)); err != nil || !inserted {
			t.Fatalf("claim in a transaction: inserted %v, %v", inserted, err)
		}
		return tx
	}
	// behind claims f through the store, and checks that it waits.
	behind := func(f meta.File) chan error {
		t.Helper()
		done := make(chan error, 1)
		go func() { _, _, err := s.Claim(ctx, f); done <- err }()
		select {
		case err := <-done:
			t.Fatalf("a change of the tenant committed (%v) while an earlier event's transaction was open", err)
		case <-time.After(300 * time.Millisecond):
		}
		if got, err := s.Events(ctx, tenant, meta.EventQuery{}); err != nil || len(got) > 0 && got[len(got)-1].File.ID == f.ID {
			t.Fatalf("Events while the first transaction is open = %+v, %v", got, err)
		}
		return done
	}
	wait := func(done chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the waiting claim: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the waiting claim did not commit once the first transaction ended")
		}
	}
	check := func(ids ...string) {
		t.Helper()
		got, err := s.Events(ctx, tenant, meta.EventQuery{})
		if err != nil || len(got) != len(ids) {
			t.Fatalf("Events = %+v, %v; want %d", got, err, len(ids))
		}
		for i, e := range got {
			if e.Seq != int64(i+1) || e.File.ID != ids[i] {
				t.Fatalf("event %d = Seq %d of %s, want Seq %d of %s", i, e.Seq, e.File.ID, i+1, ids[i])
			}
		}
	}

	f1, f2 := newFile("one"), newFile("two")
	tx := stalled(f1)
	done := behind(f2)
	if n, err := s.LastEvent(ctx, tenant); err != nil || n != 0 {
		t.Fatalf("LastEvent while the first transaction is open = %d, %v; want 0", n, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wait(done)
	check(f1.ID, f2.ID)

	f3, f4 := newFile("three"), newFile("four")
	tx = stalled(f3)
	done = behind(f4)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wait(done)
	check(f1.ID, f2.ID, f4.ID)
}

// TestEventQueriesTakeTheirIndexes: on a log of many events, Events walks
// the primary key (tenant, seq) and PruneEvents finds old events through
// events_at; neither scans the table.
func TestEventQueriesTakeTheirIndexes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testenv.PostgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.pool.Exec(ctx, `INSERT INTO events (`+eventCols+`)
SELECT g, 't' || (g % 50), 'file.created', now() - g * interval '1 second', 'id' || g, 'n', 'h', 'hashed', 'pending', 0, '', now(), now()
FROM generate_series(1, 50000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE events`); err != nil {
		t.Fatal(err)
	}
	explain := func(sql string, args ...any) string {
		t.Helper()
		rows, err := s.pool.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	for _, tc := range []struct {
		name, plan, index string
	}{
		{"events", explain(eventsSQL, "t7", int64(100), []string{}, 100), "events_pkey"},
		{"events of a type", explain(eventsSQL, "t7", int64(0), []string{"file.deleted"}, 100), "events_pkey"},
		{"prune", explain(pruneSQL, time.Now().Add(-49990*time.Second), pruneBatch), "events_at"},
	} {
		if !strings.Contains(tc.plan, tc.index) || strings.Contains(tc.plan, "Seq Scan on events") {
			t.Errorf("%s: the plan does not walk %s:\n%s", tc.name, tc.index, tc.plan)
		}
	}
}
