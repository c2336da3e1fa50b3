package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// variant is one way of doing a row's work (Perseus one way, a baseline,
// a peer), timed once per round. run is given whether this is the last
// round (the one profiled).
type variant struct {
	name  string
	run   func(ctx context.Context, last bool) (time.Duration, error)
	times series
}

// series is one variant's timings, one per round.
type series []time.Duration

func (s series) sorted() series {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func (s series) median() time.Duration {
	c := s.sorted()
	switch n := len(c); {
	case n == 0:
		return 0
	case n%2 == 1:
		return c[n/2]
	default:
		return (c[n/2-1] + c[n/2]) / 2
	}
}

// String is the median with the min–max of the rounds.
func (s series) String() string {
	c := s.sorted()
	if len(c) < 2 {
		return ms(s.median())
	}
	return fmt.Sprintf("%s (%s–%s)", ms(s.median()), ms(c[0]), ms(c[len(c)-1]))
}

// over is the ratio of the medians of s and base.
func (s series) over(base series) (float64, string) { return ratio(s.median(), base.median()) }

// runRounds times every variant once per round, so that the machine's
// drift reaches each alike, each round beginning one variant later than
// the one before (A B C, B C A, C A B …), so that no variant is always the
// one that comes right after the previous row's or round's last work.
func (e *env) runRounds(ctx context.Context, row int, vs ...*variant) error {
	for r := range e.rounds {
		for i := range vs {
			v := vs[(r+i)%len(vs)]
			if err := ctx.Err(); err != nil {
				return err
			}
			d, err := v.run(ctx, r == e.rounds-1)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", v.name, r+1, err)
			}
			v.times = append(v.times, d)
			logf("row %d, round %d/%d: %s %s", row, r+1, e.rounds, v.name, ms(d))
		}
	}
	return nil
}

// roundsNote says how the figures of a row were taken, for its notes.
func (e *env) roundsNote() string {
	how := fmt.Sprintf("median (min–max) of %d rounds", e.rounds)
	if e.rounds == 1 {
		how = "one round"
	}
	return how + ", the variants taking turns in each, each round beginning one variant later; before each timing a sync and the input read once into the page cache"
}

// prime readies a timing: the machine's dirty pages written back (sync),
// then every input read once in full, so that it comes from the page cache.
func prime(paths ...string) error {
	syscall.Sync()
	buf := make([]byte, 1<<20)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{f}, buf)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// timed primes the inputs, then times fn.
func timed(inputs []string, fn func() error) (time.Duration, error) {
	if err := prime(inputs...); err != nil {
		return 0, err
	}
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

// cliRun is one timing of the perseus CLI (or of a driver in the bench)
// against a `perseus serve` started for it alone, on a fresh data
// directory that is removed afterwards.
type cliRun struct {
	serve   []string            // flags of perseus serve beside --addr, --data and --api-key
	before  func(*server) error // after the server started, before the timing; untimed
	inputs  []string            // read into the page cache before the timing
	args    []string            // perseus ARGS… (the server's URL and key go in the environment)
	driver  func(*server) error // timed instead of the CLI, when set
	after   func(*server) error // after the timing, before the server stops: checks
	profile string              // with --profile: the server's CPU profile during the timing, as DIR/profile.pprof
	expect  time.Duration       // how long the profile runs
}

// timeCLI starts the server, primes the inputs and times the CLI process:
// the server's start is not in the timing.
func (e *env) timeCLI(ctx context.Context, c cliRun) (time.Duration, error) {
	dir, err := os.MkdirTemp(e.work, "serve-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	s, err := e.startServer(ctx, filepath.Join(dir, "data"), c.serve...)
	if err != nil {
		return 0, err
	}
	defer s.stop()
	if c.before != nil {
		if err := c.before(s); err != nil {
			return 0, err
		}
	}
	if err := prime(c.inputs...); err != nil {
		return 0, err
	}
	wait := func() {}
	if c.profile != "" {
		wait = e.profileDuring(s, c.profile, c.expect)
	}
	var d time.Duration
	if c.driver != nil {
		start := time.Now()
		err = c.driver(s)
		d = time.Since(start)
	} else {
		d, _, err = e.runCLI(ctx, s, c.args...)
	}
	wait()
	if err != nil {
		return 0, err
	}
	if c.after != nil {
		if err := c.after(s); err != nil {
			return 0, err
		}
	}
	return d, nil
}

// lastOr is the last timing of s, or d before the first.
func (s series) lastOr(d time.Duration) time.Duration {
	if len(s) == 0 {
		return d
	}
	return s[len(s)-1]
}
