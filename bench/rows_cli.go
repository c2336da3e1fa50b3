package main

import (
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// runCLI runs `perseus ARGS…` against s and returns how long it took and its
// peak RSS (getrusage of the child).
func (e *env) runCLI(ctx context.Context, s *server, args ...string) (time.Duration, int64, error) {
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = append(os.Environ(), "PERSEUS_API_HOST="+s.URL, "LETTRIA_API_KEY="+apiKey)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("perseus %v: %w\n%s", args, err, out.String())
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return d, 0, nil
	}
	return d, ru.Maxrss << 10, nil // Linux reports KiB
}

// rowRSS measures row 4: the peak RSS of `perseus file upload` and of
// `perseus serve` while a huge file goes through the embedded server.
func rowRSS(ctx context.Context, e *env, t *table) error {
	path := filepath.Join(e.work, "huge.bin")
	if err := writeFile(path, e.huge, 4); err != nil {
		return err
	}
	settle()
	defer os.Remove(path)
	s, err := e.startServer(ctx, filepath.Join(e.work, "rss-data"))
	if err != nil {
		return err
	}
	defer s.stop()
	idle, err := s.peakRSS()
	if err != nil {
		return err
	}
	d, clientRSS, err := e.runCLI(ctx, s, "file", "upload", path)
	if err != nil {
		return err
	}
	serverRSS, err := s.peakRSS()
	if err != nil {
		return err
	}
	const limit = 64 << 20
	t.add(row{n: 4, what: "peak RSS during a " + mib(e.huge) + " upload (CLI → embedded server)",
		perseus: fmt.Sprintf("client %s, server %s", mib(clientRSS), mib(serverRSS)),
		target:  "≤ 64 MiB each", met: e.verdict(clientRSS <= limit && serverRSS <= limit),
		notes: []string{fmt.Sprintf("client: getrusage ru_maxrss of the `perseus file upload` process; server: VmHWM of "+
			"`perseus serve` (%s right after start); the upload took %s (%s)", mib(idle), ms(d), rate(e.huge, d))},
	})
	return nil
}

// rowSmallFiles measures row 5: many small files with the CLI at concurrency
// 8 against concurrency 1, each into a fresh embedded server.
func rowSmallFiles(ctx context.Context, e *env, t *table) error {
	dir := filepath.Join(e.work, "small")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rng := mrand.New(mrand.NewPCG(5, 5))
	var total int64
	for i := range e.smallFiles {
		n := int64(4<<10 + rng.IntN(1<<20-4<<10+1))
		total += n
		if err := writeFile(filepath.Join(dir, fmt.Sprintf("f%04d.bin", i)), n, uint64(1000+i)); err != nil {
			return err
		}
	}
	settle()
	times := map[int]time.Duration{}
	for _, conc := range []int{8, 1} {
		s, err := e.startServer(ctx, filepath.Join(e.work, fmt.Sprintf("small-data-%d", conc)))
		if err != nil {
			return err
		}
		wait := func() {}
		if conc == 8 {
			wait = e.profileDuring(s, "row5-server-c8", 5*time.Second)
		}
		d, _, err := e.runCLI(ctx, s, "file", "upload", dir, "--concurrency", fmt.Sprint(conc))
		wait()
		s.stop()
		if err != nil {
			return err
		}
		times[conc] = d
	}
	perSec := func(d time.Duration) float64 { return float64(e.smallFiles) / d.Seconds() }
	t.add(row{n: 5, what: fmt.Sprintf("%d small files (4 KiB–1 MiB, %s in all), CLI --concurrency 8", e.smallFiles, mib(total)),
		perseus:  fmt.Sprintf("%.0f files/s (%s)", perSec(times[8]), ms(times[8])),
		baseline: fmt.Sprintf("%.0f files/s at --concurrency 1 (%s)", perSec(times[1]), ms(times[1])),
		ratio:    fmt.Sprintf("%.2f× faster", float64(times[1])/float64(times[8])),
		target:   "report", met: "-",
		notes: []string{"each run uploads into a fresh embedded server (SQLite, local directory), so every file is new; " +
			"time is the wall time of the `perseus file upload DIR` process, hashing included"},
	})
	return nil
}
