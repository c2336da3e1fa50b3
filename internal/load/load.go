// Package load drives concurrent clients against a Perseus server and reports throughput, latency, errors and lost files.
package load

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/perseus-go/perseus"
)

// Config says what to run.
type Config struct {
	Client   *perseus.Client
	Clients  int           // concurrent clients
	Duration time.Duration // how long to run
	MinSize  int           // smallest file, bytes
	MaxSize  int           // largest file, bytes
	TempDir  string        // where generated files are written
}

// Result is what a run measured.
type Result struct {
	Elapsed  time.Duration
	Ops      map[string][]time.Duration // latencies per operation
	Errors   map[string]int
	Uploaded int // files that ended uploaded
	Lost     int // uploaded files that a final find did not return as uploaded
	FirstErr error
}

type worker struct {
	lat  map[string][]time.Duration
	errs map[string]int
	ids  []string
	err  error
}

// time runs fn, recording its latency or its error. An operation cut short
// by the end of the run is neither.
func (w *worker) time(ctx context.Context, op string, fn func() error) error {
	start := time.Now()
	err := fn()
	if err != nil && ctx.Err() != nil {
		return err
	}
	if err != nil {
		w.errs[op]++
		if w.err == nil {
			w.err = fmt.Errorf("%s: %w", op, err)
		}
		return err
	}
	w.lat[op] = append(w.lat[op], time.Since(start))
	return nil
}

// Run runs the load until cfg.Duration has passed or ctx ends, then checks
// that every file reported uploaded is still found uploaded.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Clients < 1 || cfg.Duration <= 0 || cfg.MinSize < 0 || cfg.MaxSize < cfg.MinSize {
		return Result{}, fmt.Errorf("load: clients ≥ 1, duration > 0 and 0 ≤ min size ≤ max size, please")
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	workers := make([]*worker, cfg.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &worker{lat: map[string][]time.Duration{}, errs: map[string]int{}}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(runCtx, cfg, i)
		}()
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start), Ops: map[string][]time.Duration{}, Errors: map[string]int{}}
	var ids []string
	for _, w := range workers {
		for op, l := range w.lat {
			res.Ops[op] = append(res.Ops[op], l...)
		}
		for op, n := range w.errs {
			res.Errors[op] += n
		}
		ids = append(ids, w.ids...)
		if res.FirstErr == nil {
			res.FirstErr = w.err
		}
	}
	res.Uploaded = len(ids)
	lost, err := countLost(ctx, cfg.Client, ids)
	res.Lost = lost
	return res, err
}

func (w *worker) loop(ctx context.Context, cfg Config, n int) {
	path := filepath.Join(cfg.TempDir, fmt.Sprintf("load-%d", n))
	defer os.Remove(path)
	for i := 0; ctx.Err() == nil; i++ {
		if err := writeRandom(path, cfg.MinSize+rand.IntN(cfg.MaxSize-cfg.MinSize+1)); err != nil {
			w.errs["generate"]++
			return
		}
		var f *perseus.File
		if w.time(ctx, "upload", func() (err error) {
			f, err = cfg.Client.File.UploadFile(ctx, path, perseus.WithName(fmt.Sprintf("load-%d-%d", n, i)))
			return err
		}) != nil {
			continue
		}
		if f.Status == perseus.StatusUploaded {
			w.ids = append(w.ids, f.ID)
		}
		w.time(ctx, "find", func() error {
			got, err := cfg.Client.File.FindFile(ctx, f.ID)
			if err == nil && got == nil {
				err = fmt.Errorf("file %s not found right after its upload", f.ID)
			}
			return err
		})
	}
}

func writeRandom(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, crand.Reader, int64(n)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func countLost(ctx context.Context, c *perseus.Client, ids []string) (int, error) {
	found := 0
	for chunk := range slices.Chunk(ids, 1000) {
		files, err := c.File.FindFiles(ctx, perseus.FindQuery{IDs: chunk})
		if err != nil {
			return 0, fmt.Errorf("load: final check: %w", err)
		}
		for _, f := range files {
			if f.Status == perseus.StatusUploaded {
				found++
			}
		}
	}
	return len(ids) - found, nil
}

// Print writes the result as a table.
func (r Result) Print(w io.Writer, clients int) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "op\tcount\tper second\tp50\tp99\terrors\t\n")
	for _, op := range []string{"upload", "find"} {
		l := r.Ops[op]
		slices.Sort(l)
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%d\t\n", op, len(l), float64(len(l))/r.Elapsed.Seconds(),
			pct(l, 50), pct(l, 99), r.Errors[op])
	}
	tw.Flush()
	fmt.Fprintf(w, "%d clients for %s: %d files uploaded, %d lost, %d errors\n",
		clients, r.Elapsed.Round(time.Millisecond), r.Uploaded, r.Lost, r.Errors["upload"]+r.Errors["find"]+r.Errors["generate"])
	if r.FirstErr != nil {
		fmt.Fprintf(w, "first error: %v\n", r.FirstErr)
	}
}

func pct(sorted []time.Duration, p int) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := (len(sorted) - 1) * p / 100
	return sorted[i].Round(10 * time.Microsecond).String()
}
