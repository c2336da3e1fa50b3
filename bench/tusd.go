package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// tusPeer times tusd (github.com/tus/tusd, the peer row; scripts/bench
// installs the version it names) taking one file into its file store.
type tusPeer struct {
	e       *env
	bin     string // "" when tusd is not installed
	version string
	file    string
	size    int64
	v       *variant // its timings: until the PATCH was answered
	synced  series   // until a sync after it returned
}

// newTusPeer finds tusd: on PATH, else where go install puts it.
func (e *env) newTusPeer(file string, size int64) *tusPeer {
	p := &tusPeer{e: e, file: file, size: size}
	if bin, err := exec.LookPath("tusd"); err == nil {
		p.bin = bin
	} else if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		gobin, gopath, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if gobin == "" {
			gobin = filepath.Join(filepath.SplitList(gopath)[0], "bin")
		}
		if _, err := os.Stat(filepath.Join(gobin, "tusd")); err == nil {
			p.bin = filepath.Join(gobin, "tusd")
		}
	}
	if p.bin == "" {
		return p
	}
	p.version = "(version unknown)"
	if out, err := exec.Command("go", "version", "-m", p.bin).Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/tus/tusd/v2" {
				p.version = f[2]
			}
		}
	}
	return p
}

// variant is the peer as one variant of row 1: its timing is the one
// without the sync, and each run also records the one with it.
func (p *tusPeer) variant() *variant {
	p.v = &variant{name: "tusd", run: func(ctx context.Context, _ bool) (time.Duration, error) {
		d, synced, err := p.run(ctx)
		if err == nil {
			p.synced = append(p.synced, synced)
		}
		return d, err
	}}
	return p.v
}

// run starts tusd on a fresh upload directory and sends the file.
func (p *tusPeer) run(ctx context.Context) (patched, synced time.Duration, err error) {
	dir, err := os.MkdirTemp(p.e.work, "tusd-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return 0, 0, err
	}
	host, port, _ := net.SplitHostPort(addr)
	s := &server{URL: "http://" + addr, Data: dir}
	args := []string{"-host", host, "-port", port, "-upload-dir", dir, "-base-path", "/files/", "-verbose=false", "-show-startup-logs=false"}
	if err := s.start(ctx, p.bin, args, s.URL+"/metrics"); err != nil {
		return 0, 0, err
	}
	defer s.stop()
	if err := prime(p.file); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	loc, err := tusClient{endpoint: s.URL + "/files/", file: p.file}.run(ctx)
	patched = time.Since(start)
	if err != nil {
		return 0, 0, err
	}
	syscall.Sync()
	synced = time.Since(start)
	if fi, err := os.Stat(filepath.Join(dir, path.Base(loc))); err != nil || fi.Size() != p.size {
		return 0, 0, fmt.Errorf("tusd stored %v (%v), want %d bytes", fi, err, p.size)
	}
	return patched, synced, nil
}
