package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/perseus-go/perseus"
)

// eventsRow is the row number of the events' latency.
const eventsRow = 9

// rowEvents measures row 9: how soon an upload's file.uploaded event
// reaches a stream of events (GET /api/v0/events, through the SDK's
// Events) held open, on one embedded server, then on another replica of
// two `perseus serve` sharing PostgreSQL (and a blob directory), where it
// travels by the store's LISTEN/NOTIFY.
func rowEvents(ctx context.Context, e *env, t *table) error {
	s, err := e.startServer(ctx, filepath.Join(e.work, "events-data"))
	if err != nil {
		return err
	}
	lat, err := eventLatency(ctx, s, s, e.waits)
	s.stop()
	if err != nil {
		return err
	}
	t.add(eventsRowOf(e, "one embedded server", lat))
	if e.postgres == "" {
		t.add(row{n: eventsRow, what: "event latency, two replicas", perseus: "skipped: PERSEUS_TEST_POSTGRES_URL is not set", target: "p50 ≤ 20 ms", met: "-"})
		return nil
	}
	pg, drop, err := pgSchema(ctx, e.postgres)
	if err != nil {
		return err
	}
	defer drop()
	blobs := "file://" + filepath.Join(e.work, "events-shared-blobs")
	a, err := e.startServer(ctx, filepath.Join(e.work, "events-a"), "--db", pg, "--blobs", blobs)
	if err != nil {
		return err
	}
	defer a.stop()
	b, err := e.startServer(ctx, filepath.Join(e.work, "events-b"), "--db", pg, "--blobs", blobs)
	if err != nil {
		return err
	}
	defer b.stop()
	if lat, err = eventLatency(ctx, a, b, e.waits); err != nil {
		return err
	}
	t.add(eventsRowOf(e, "two replicas on PostgreSQL (PUT to one, stream held on the other)", lat))
	return nil
}

// latencies are the sorted latencies of an event's arrival, from two
// starting points.
type latencies struct {
	recorded []time.Duration // from the record's updatedAt (the server's clock, in ms)
	answered []time.Duration // from the PUT's answer arriving at the client
}

func eventsRowOf(e *env, where string, lat latencies) row {
	p50 := pct(lat.recorded, 50)
	return row{n: eventsRow, what: "event latency, " + where,
		perseus: fmt.Sprintf("p50 %s, p99 %s, max %s", ms(p50), ms(pct(lat.recorded, 99)), ms(lat.recorded[len(lat.recorded)-1])),
		target:  "p50 ≤ 20 ms", met: e.verdict(p50 <= 20*time.Millisecond),
		notes: []string{fmt.Sprintf("%d files of 4 KiB PUT one after another; latency = the file.uploaded event's arrival on a stream held open "+
			"(the SDK's File.Events, types=file.uploaded) − the record's updatedAt (ms, the same machine's clock); "+
			"from the PUT's answer instead (0 when the event came first): p50 %s, p99 %s", len(lat.recorded), ms(pct(lat.answered, 50)), ms(pct(lat.answered, 99)))},
	}
}

// eventLatency holds a stream of file.uploaded events open on watcher,
// then creates and PUTs n files one by one through up, and returns how
// long after each was recorded, and after each PUT's answer, its event
// arrived.
func eventLatency(ctx context.Context, up, watcher *server, n int) (latencies, error) {
	cu, err := client(up.URL, 4)
	if err != nil {
		return latencies{}, err
	}
	cw, err := client(watcher.URL, 1)
	if err != nil {
		return latencies{}, err
	}
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	all := make(chan struct{})
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	streamErr := make(chan error, 1)
	go func() {
		opts := perseus.EventsOptions{Types: []perseus.EventType{perseus.EventFileUploaded}}
		for ev, err := range cw.File.Events(sctx, opts) {
			if err != nil {
				streamErr <- err
				return
			}
			now := time.Now()
			mu.Lock()
			arrived[ev.File.ID] = now
			if len(arrived) == n {
				close(all)
			}
			mu.Unlock()
		}
	}()
	time.Sleep(500 * time.Millisecond) // the stream is open
	type put struct {
		id                 string
		recorded, answered time.Time
	}
	puts := make([]put, 0, n)
	for i := range n {
		body := bytes.Repeat([]byte(randomHex(8)), 256) // 4 KiB
		sum := sha256.Sum256(body)
		res, err := cu.File.CreateFile(ctx, fmt.Sprintf("ev-%d", i), hex.EncodeToString(sum[:]))
		if err != nil {
			return latencies{}, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, res.UploadURL, bytes.NewReader(body))
		if err != nil {
			return latencies{}, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return latencies{}, err
		}
		var f perseus.File
		err = json.NewDecoder(resp.Body).Decode(&f)
		resp.Body.Close()
		answered := time.Now()
		if resp.StatusCode != http.StatusOK || err != nil || f.Status != perseus.StatusUploaded {
			return latencies{}, fmt.Errorf("PUT: %s %v (%s)", resp.Status, err, f.Status)
		}
		puts = append(puts, put{id: res.File.ID, recorded: f.UpdatedAt, answered: answered})
		time.Sleep(2 * time.Millisecond)
	}
	select {
	case <-all:
	case err := <-streamErr:
		return latencies{}, fmt.Errorf("the stream of events: %w", err)
	case <-time.After(30 * time.Second):
		mu.Lock()
		got := len(arrived)
		mu.Unlock()
		return latencies{}, fmt.Errorf("%d of %d file.uploaded events arrived within 30s of the last PUT", got, n)
	}
	stop()
	var lat latencies
	mu.Lock()
	defer mu.Unlock()
	for _, p := range puts {
		at := arrived[p.id]
		// updatedAt is cut to the millisecond: the event cannot come before it.
		lat.recorded = append(lat.recorded, max(0, at.Sub(p.recorded)))
		lat.answered = append(lat.answered, max(0, at.Sub(p.answered)))
	}
	slices.Sort(lat.recorded)
	slices.Sort(lat.answered)
	return lat, nil
}
