package main

import (
	"context"
	"fmt"
	"io"
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
