package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perseus-go/perseus"
)

const metaClients = 32

// rowMeta measures row 6: create then find, by 32 concurrent clients over
// loopback HTTP, against a server on SQLite and on PostgreSQL as it is set,
// then on PostgreSQL made durable (fsync=on, synchronous_commit=on) for the
// rows, each row labelled with the settings it ran on.
func rowMeta(ctx context.Context, e *env, t *table) error {
	if err := metaRows(ctx, e, t, "SQLite", "", 5000); err != nil {
		return err
	}
	t.note(6, "no baseline; per create the server inserts one record and commits it before it answers (SQLite: WAL, "+
		"synchronous=FULL, concurrent writes share one commit and its fsync; PostgreSQL: its WAL flushed at commit as its "+
		"row's fsync and synchronous_commit say: with fsync=off nothing reaches the disk at commit), per find one indexed read; "+
		"the client hashes nothing (random hashes)")
	if e.postgres == "" {
		t.add(row{n: 6, what: "metadata, PostgreSQL", perseus: "skipped: PERSEUS_TEST_POSTGRES_URL is not set", target: "≥ 3000/s", met: "-"})
		return nil
	}
	if err := pgMetaRows(ctx, e, t); err != nil {
		return err
	}
	restore, err := pgDurable(ctx, e.postgres)
	if err != nil {
		t.add(row{n: 6, what: fmt.Sprintf("metadata create+find, %d clients, PostgreSQL (fsync=on, synchronous_commit=on)", metaClients),
			perseus: "skipped: " + err.Error(), target: "≥ 3000/s, p99 < 20 ms", met: "-"})
		return nil
	}
	defer restore()
	return pgMetaRows(ctx, e, t)
}

// pgMetaRows runs the rows on PostgreSQL as it is set now, in a new schema.
func pgMetaRows(ctx context.Context, e *env, t *table) error {
	pg, drop, err := pgSchema(ctx, e.postgres)
	if err != nil {
		return err
	}
	defer drop()
	name := fmt.Sprintf("PostgreSQL (fsync=%s, synchronous_commit=%s)",
		pgSetting(ctx, e.postgres, "fsync"), pgSetting(ctx, e.postgres, "synchronous_commit"))
	return metaRows(ctx, e, t, name, pg, 3000)
}

// metaRows runs a row with the static key and one with a key from the store.
func metaRows(ctx context.Context, e *env, t *table, name, db string, perSec float64) error {
	for _, dbKey := range []bool{false, true} {
		if err := metaRow(ctx, e, t, name, db, perSec, dbKey); err != nil {
			return err
		}
	}
	return nil
}

// metaRow runs the load against one server on db ("" for SQLite), with the
// static key of the command line or (dbKey) one made by `perseus keys
// create`, which the server looks up in the store on every request.
func metaRow(ctx context.Context, e *env, t *table, name, db string, perSec float64, dbKey bool) error {
	dir, err := os.MkdirTemp(e.work, "meta-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	var flags []string
	if db != "" {
		flags = []string{"--db", db}
	}
	key, auth := apiKey, "static key (--api-key)"
	if dbKey {
		out, err := exec.CommandContext(ctx, e.bin, append([]string{"keys", "create", "--tenant", "default", "--data", data}, flags...)...).Output()
		if err != nil {
			return fmt.Errorf("perseus keys create: %w", err)
		}
		key, auth = strings.TrimSpace(string(out)), "key looked up in the store per request"
	}
	s, err := e.startServer(ctx, data, flags...)
	if err != nil {
		return err
	}
	c, err := clientWithKey(s.URL, key, metaClients)
	if err != nil {
		s.stop()
		return err
	}
	wait := func() {}
	if !dbKey {
		wait = e.profileDuring(s, "row6-server-"+slug(name), e.metaDur)
	}
	res, err := metaLoad(ctx, c, metaClients, time.Second, e.metaDur)
	wait()
	s.stop()
	if err != nil {
		return err
	}
	all := slices.Concat(res.create, res.find)
	slices.Sort(all)
	reqs := float64(len(all)) / res.elapsed.Seconds()
	p99 := pct(all, 99)
	notes := []string{fmt.Sprintf("%s, %s: %d creates + %d finds in %s after a 1 s warm-up; create p50 %s p99 %s, find p50 %s p99 %s; %d errors",
		name, auth, len(res.create), len(res.find), ms(res.elapsed), ms(pct(res.create, 50)), ms(pct(res.create, 99)),
		ms(pct(res.find, 50)), ms(pct(res.find, 99)), res.errors)}
	what := fmt.Sprintf("metadata create+find, %d clients, %s", metaClients, name)
	if dbKey {
		what += ", API key from the store"
	}
	t.add(row{n: 6, what: what,
		perseus: fmt.Sprintf("%.0f req/s, p50 %s, p99 %s", reqs, ms(pct(all, 50)), ms(p99)),
		target:  fmt.Sprintf("≥ %.0f/s, p99 < 20 ms", perSec),
		met:     e.verdict(reqs >= perSec && p99 < 20*time.Millisecond && res.errors == 0),
		notes:   notes,
	})
	return nil
}

// slug keeps the letters, digits and = of s, the rest as single dashes.
func slug(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return !(r == '=' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z')
	}), "-")
}

type metaResult struct {
	create, find []time.Duration // sorted
	errors       int
	elapsed      time.Duration
}

// metaLoad runs clients loops of create-then-find for warm+d and keeps the
// operations that started after the warm-up and ended within d.
func metaLoad(ctx context.Context, c *perseus.Client, clients int, warm, d time.Duration) (metaResult, error) {
	start := time.Now()
	from, until := start.Add(warm), start.Add(warm+d)
	var mu sync.Mutex
	var res metaResult
	var wg sync.WaitGroup
	var errs atomic.Int64
	for i := range clients {
		wg.Go(func() {
			var create, find []time.Duration
			for n := 0; ; n++ {
				t0 := time.Now()
				if t0.After(until) || ctx.Err() != nil {
					break
				}
				r, err := c.File.CreateFile(ctx, fmt.Sprintf("m-%d-%d", i, n), randomHex(32))
				t1 := time.Now()
				if err != nil {
					errs.Add(1)
					continue
				}
				_, err = c.File.FindFiles(ctx, perseus.FindQuery{IDs: []string{r.File.ID}})
				t2 := time.Now()
				if err != nil {
					errs.Add(1)
					continue
				}
				if t0.After(from) && t1.Before(until) {
					create = append(create, t1.Sub(t0))
				}
				if t1.After(from) && t2.Before(until) {
					find = append(find, t2.Sub(t1))
				}
			}
			mu.Lock()
			res.create = append(res.create, create...)
			res.find = append(res.find, find...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(res.create)
	slices.Sort(res.find)
	res.errors, res.elapsed = int(errs.Load()), d
	return res, ctx.Err()
}

// rowWait measures row 7: how long after the PUT's answer (the server records
// uploaded just before it answers) a WaitForFileUpload started earlier
// returns; in one process, and across two replicas sharing PostgreSQL.
func rowWait(ctx context.Context, e *env, t *table) error {
	s, err := e.startServer(ctx, filepath.Join(e.work, "wait-data"))
	if err != nil {
		return err
	}
	lat, err := waitLatency(ctx, s, s, e.waits)
	s.stop()
	if err != nil {
		return err
	}
	t.add(waitRow(e, "one embedded server", lat))
	if e.postgres == "" {
		t.add(row{n: 7, what: "wait latency, two replicas", perseus: "skipped: PERSEUS_TEST_POSTGRES_URL is not set", target: "p50 ≤ 50 ms", met: "-"})
		return nil
	}
	pg, drop, err := pgSchema(ctx, e.postgres)
	if err != nil {
		return err
	}
	defer drop()
	// Two replicas: one PostgreSQL, one blob directory, one signing key
	// (PERSEUS_SIGNING_KEY, set in main).
	blobs := "file://" + filepath.Join(e.work, "wait-shared-blobs")
	dataA, dataB := filepath.Join(e.work, "wait-a"), filepath.Join(e.work, "wait-b")
	a, err := e.startServer(ctx, dataA, "--db", pg, "--blobs", blobs)
	if err != nil {
		return err
	}
	defer a.stop()
	b, err := e.startServer(ctx, dataB, "--db", pg, "--blobs", blobs)
	if err != nil {
		return err
	}
	defer b.stop()
	lat, err = waitLatency(ctx, a, b, e.waits)
	if err != nil {
		return err
	}
	t.add(waitRow(e, "two replicas on PostgreSQL (PUT to one, wait on the other)", lat))
	return nil
}

func waitRow(e *env, where string, lat []time.Duration) row {
	return row{n: 7, what: "wait latency, " + where,
		perseus: fmt.Sprintf("p50 %s, p99 %s, max %s", ms(pct(lat, 50)), ms(pct(lat, 99)), ms(lat[len(lat)-1])),
		target:  "p50 ≤ 50 ms", met: e.verdict(pct(lat, 50) <= 50*time.Millisecond),
		notes: []string{fmt.Sprintf("%d files of 4 KiB, each waited for (long poll) before its PUT; latency = wait's return − PUT's answer, "+
			"0 when the wait returned first", len(lat))},
	}
}

// waitLatency creates n files through up, starts a WaitForFileUpload for each
// through waiter, then PUTs them one by one and returns, sorted, how long
// after each PUT's answer its wait returned.
func waitLatency(ctx context.Context, up, waiter *server, n int) ([]time.Duration, error) {
	cu, err := client(up.URL, 4)
	if err != nil {
		return nil, err
	}
	cw, err := client(waiter.URL, n)
	if err != nil {
		return nil, err
	}
	type item struct {
		body     []byte
		url, id  string
		put, got time.Time
		err      error
	}
	items := make([]*item, n)
	for i := range items {
		body := bytes.Repeat([]byte(randomHex(8)), 256) // 4 KiB
		sum := sha256.Sum256(body)
		res, err := cu.File.CreateFile(ctx, fmt.Sprintf("w-%d", i), hex.EncodeToString(sum[:]))
		if err != nil {
			return nil, err
		}
		items[i] = &item{body: body, url: res.UploadURL, id: res.File.ID}
	}
	var wg sync.WaitGroup
	for _, it := range items {
		wg.Go(func() {
			_, it.err = cw.File.WaitForFileUpload(ctx, it.id, perseus.WithTimeout(time.Minute))
			it.got = time.Now()
		})
	}
	time.Sleep(500 * time.Millisecond) // let every long poll reach the server
	for _, it := range items {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, it.url, bytes.NewReader(it.body))
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		it.put = time.Now()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("PUT: %s", resp.Status)
		}
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	lat := make([]time.Duration, n)
	for i, it := range items {
		if it.err != nil {
			return nil, it.err
		}
		lat[i] = max(0, it.got.Sub(it.put))
	}
	slices.Sort(lat)
	return lat, nil
}
