package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// apiKey is the static key every server of the run accepts.
const apiKey = "bench-key-0123456789abcdef"

// build compiles the perseus binary into dir.
func build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "perseus")
	logf("building perseus")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/perseus")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/perseus (run from the module root): %w", err)
	}
	return bin, nil
}

// server is one running `perseus serve`, or tusd.
type server struct {
	URL   string
	Data  string
	pprof string // host:port of its pprof endpoint, or ""
	cmd   *exec.Cmd
	log   *lockedBuffer
	done  chan struct{}
	err   error
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer runs `perseus serve` on a free loopback port with data as its
// --data and the static bench key, plus extra flags, and waits until it is healthy.
func (e *env) startServer(ctx context.Context, data string, extra ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", addr, "--data", data, "--api-key", apiKey}
	s := &server{URL: "http://" + addr, Data: data}
	if e.profile != "" {
		if s.pprof, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof", s.pprof)
	}
	if err := s.start(ctx, e.bin, append(args, extra...), s.URL+"/healthz"); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs bin with args and waits until GET health answers 200.
func (s *server) start(ctx context.Context, bin string, args []string, health string) error {
	s.log, s.done = &lockedBuffer{}, make(chan struct{})
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	name := filepath.Base(bin)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited (%v):\n%s", name, s.err, s.log.String())
		case <-ctx.Done():
			s.stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("%s did not become healthy:\n%s", name, s.log.String())
		}
	}
}

// stop ends the server with SIGTERM (SIGKILL after 30 s).
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// peakRSS returns the server's peak resident set size so far (VmHWM).
func (s *server) peakRSS() (int64, error) { return vmHWM(s.cmd.Process.Pid) }

func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/PID/status")
}

// profileDuring records a CPU profile of the server for d into the profile
// directory as name.pprof, in the background; wait for it with the returned func.
func (e *env) profileDuring(s *server, name string, d time.Duration) (wait func()) {
	if e.profile == "" || s.pprof == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		secs := max(1, int(d.Round(time.Second)/time.Second))
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprof, secs))
		if err != nil {
			logf("profile %s: %v", name, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(e.profile, name+".pprof"))
		if err != nil {
			logf("profile %s: %v", name, err)
			return
		}
		defer f.Close()
		io.Copy(f, resp.Body)
	}()
	return func() { <-done }
}

// lockedBuffer collects a process's output; safe to read while it writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
