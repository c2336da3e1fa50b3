// Command bench measures Perseus against the physical limits of the machine
// it runs on and prints one table: each row a ratio against a baseline
// measured in the same run (see BENCHMARKS.md). Run it as scripts/bench, or
// `go run ./bench [--smoke] [--rows 1,6]` from the module root.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sizes says how much work each row does.
type sizes struct {
	big        int64         // rows 1–3 and 8: one new file
	huge       int64         // row 4: the file whose upload's peak RSS is measured
	smallFiles int           // row 5
	metaDur    time.Duration // row 6, per store, after a warm-up
	waits      int           // row 7, per setting
	rounds     int           // rows 1, 2, 3, 5, 8 and 10: rounds, each timing every variant once
}

// The smoke file is larger than the CLI's default part size (16 MiB), so
// that --stream and the parts take the paths they take at full size.
var (
	full  = sizes{big: 1 << 30, huge: 4 << 30, smallFiles: 1000, metaDur: 5 * time.Second, waits: 200, rounds: 5}
	smoke = sizes{big: 40 << 20, huge: 64 << 20, smallFiles: 50, metaDur: time.Second, waits: 20, rounds: 1}
)

// env is what every row needs: where to work, the perseus binary and the services.
type env struct {
	sizes
	work      string // scratch directory, on the disk the data dirs live on
	bin       string // the perseus binary
	profile   string // directory for server CPU profiles, or ""
	postgres  string // PERSEUS_TEST_POSTGRES_URL or ""
	s3        string // PERSEUS_TEST_S3_URL or ""
	smokeMode bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == tusClientMode { // the bench's own tus client, as a process (tusclient.go)
		if err := runTusClient(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench tus-client:", err)
			os.Exit(1)
		}
		return
	}
	// The servers the bench starts off the embedded default are one fleet:
	// one signing key.
	if os.Getenv("PERSEUS_SIGNING_KEY") == "" {
		os.Setenv("PERSEUS_SIGNING_KEY", "bench=0123456789abcdef0123456789abcdef")
	}
	smokeFlag := flag.Bool("smoke", false, "shrink every row (40 MiB instead of 1 GiB, 50 files, 1 s, one round) and only check that it runs")
	rowsFlag := flag.String("rows", "1,2,3,4,5,6,7,8,9,10", "comma-separated rows to run")
	roundsFlag := flag.Int("rounds", 0, "`N` rounds of rows 1, 2, 3, 5, 8 and 10 (default 5, with --smoke 1; a table of record needs at least 5)")
	workFlag := flag.String("work", "", "scratch `DIR` (default: a new temporary directory, removed at the end)")
	binFlag := flag.String("perseus", "", "perseus `BINARY` to drive (default: go build ./cmd/perseus)")
	profFlag := flag.String("profile", "", "write CPU profiles of the servers of rows 1, 2, 5 and 6 (their last round) into `DIR`")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *smokeFlag, *rowsFlag, *roundsFlag, *workFlag, *binFlag, *profFlag); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, smokeMode bool, rowList string, rounds int, work, bin, profile string) error {
	e := &env{sizes: full, smokeMode: smokeMode, profile: profile,
		postgres: os.Getenv("PERSEUS_TEST_POSTGRES_URL"), s3: os.Getenv("PERSEUS_TEST_S3_URL")}
	if smokeMode {
		e.sizes = smoke
	}
	if rounds > 0 {
		e.rounds = rounds
	}
	if work == "" {
		dir, err := os.MkdirTemp("", "perseus-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	e.work = work
	if profile != "" {
		if err := os.MkdirAll(profile, 0o755); err != nil {
			return err
		}
	}
	if bin == "" {
		var err error
		if bin, err = build(ctx, work); err != nil {
			return err
		}
	}
	e.bin = bin

	want := map[int]bool{}
	for _, s := range strings.Split(rowList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > consoleRow {
			return fmt.Errorf("--rows %q: give numbers from 1 to %d", rowList, consoleRow)
		}
		want[n] = true
	}
	start := time.Now()
	t := &table{}
	steps := []func(context.Context, *env, *table) error{
		1: rowNewFile, 2: rowS3, 3: rowReupload, 4: rowRSS, 5: rowSmallFiles, 6: rowMeta, 7: rowWait, 8: rowTusResume, eventsRow: rowEvents, consoleRow: rowConsole,
	}
	for n, fn := range steps {
		if !want[n] {
			continue
		}
		logf("row %d", n)
		if err := fn(ctx, e, t); err != nil {
			return fmt.Errorf("row %d: %w", n, err)
		}
	}
	t.print(os.Stdout, machine(), time.Since(start), filepath.Base(os.Args[0]))
	return nil
}

// logf reports progress on stderr, so that stdout holds only the table.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
