package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// smallConcurrency is how many files row 5 sends at once, both ways.
const smallConcurrency = 8

// rowSmallFiles measures row 5: many small files with the CLI at
// concurrency 8 into a fresh embedded server, against `cp -r` and a sync
// beside Go's SHA-256 of every file, and against the Python SDK's protocol
// driven from Go, 8 files at once, into a fresh server too.
func rowSmallFiles(ctx context.Context, e *env, t *table) error {
	dir := filepath.Join(e.work, "small")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rng := mrand.New(mrand.NewPCG(5, 5))
	var total int64
	paths := make([]string, e.smallFiles)
	hashes := make([]string, e.smallFiles)
	for i := range paths {
		n := int64(4<<10 + rng.IntN(1<<20-4<<10+1))
		total += n
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%04d.bin", i))
		if err := writeFile(paths[i], n, uint64(1000+i)); err != nil {
			return err
		}
		var err error
		if hashes[i], err = goSHA256(paths[i]); err != nil {
			return err
		}
	}
	check := func(s *server) error { return checkUploaded(ctx, s, hashes...) }

	cp := &variant{name: "cp -r && sync, beside Go SHA-256 of every file", run: func(ctx context.Context, _ bool) (time.Duration, error) {
		return inScratch(e.work, func(dst string) (time.Duration, error) {
			return timed(paths, func() error {
				var hashErr error
				var wg sync.WaitGroup
				wg.Go(func() { hashErr = hashAll(paths) })
				err := exec.CommandContext(ctx, "sh", "-c", `cp -r "$1" "$2" && sync`, "sh", dir, dst).Run()
				wg.Wait()
				return firstErr(err, hashErr)
			})
		})
	}}
	cli := &variant{name: fmt.Sprintf("perseus file upload DIR --concurrency %d", smallConcurrency)}
	cli.run = func(ctx context.Context, last bool) (time.Duration, error) {
		return e.timeCLI(ctx, cliRun{inputs: paths,
			args:    []string{"file", "upload", dir, "--concurrency", fmt.Sprint(smallConcurrency), "--wait"},
			after:   check,
			profile: profileIf(last, "row5-server"), expect: cli.times.lastOr(5*time.Second) + time.Second,
		})
	}
	py := &variant{name: fmt.Sprintf("the Python SDK's protocol from Go, %d at once", smallConcurrency), run: func(ctx context.Context, _ bool) (time.Duration, error) {
		return e.timeCLI(ctx, cliRun{inputs: paths, after: check,
			driver: func(s *server) error { return pyProtocol(ctx, s.URL, dir, paths, smallConcurrency) },
		})
	}}
	if err := e.runRounds(ctx, 5, cp, cli, py); err != nil {
		return err
	}

	files := fmt.Sprintf("%d small files (4 KiB–1 MiB, %s in all), embedded server", e.smallFiles, mib(total))
	perSec := func(s series) string {
		return fmt.Sprintf("%s, %.0f files/s", s, float64(e.smallFiles)/s.median().Seconds())
	}
	r, rs := cli.times.over(cp.times)
	t.add(row{n: 5, what: files + fmt.Sprintf(", CLI --concurrency %d", smallConcurrency),
		perseus: perSec(cli.times), baseline: cp.times.String(), ratio: rs, target: "≤ 2×", met: e.verdict(r <= 2)})
	faster := float64(py.times.median()) / float64(cli.times.median())
	t.add(row{n: 5, what: files + fmt.Sprintf(", CLI --concurrency %d against the Python SDK's protocol driven from Go, %d at once",
		smallConcurrency, smallConcurrency),
		perseus: perSec(cli.times), baseline: perSec(py.times), ratio: fmt.Sprintf("%.2f× faster", faster),
		target: "≥ 3× faster", met: e.verdict(faster >= 3),
		notes: []string{
			fmt.Sprintf("baseline 1 = `cp -r SRC DST && sync` (DST on the data dir's disk: each file copied once, no fsync of its "+
				"own, one sync for all) beside Go crypto/sha256 of every file on %d goroutines: the wall time of the pair", runtime.NumCPU()),
			fmt.Sprintf("perseus = `perseus file upload DIR --concurrency %d --wait` as its own process, against a `perseus serve` "+
				"started for that timing on a fresh --data (SQLite, local directory) and stopped after it; its start is not timed; "+
				"the CLI hashes each file once (before sending it), creates the records 100 per request and sends the new files' "+
				"bytes many per request (POST /api/v0/file/batch/content, up to 16 MiB each, several at once) where the server "+
				"offers it (the embedded one does); the server hashes each file again as it arrives, makes the batch durable "+
				"together (every file's fsync at once, each directory once) and records them uploaded together before it answers", smallConcurrency),
			fmt.Sprintf("baseline 2 = what the Python SDK's upload_file does, per file (CONTRACT.md): Go SHA-256 of the file, "+
				"POST /api/v0/file, PUT of the file (sendfile) to its uploadUrl, then POST /api/v0/file/find with its id; %d files "+
				"at once on kept-alive connections, against a `perseus serve` started for that timing likewise; per file the "+
				"server hashes it, fsyncs it and its directory, and commits its record before it answers", smallConcurrency),
			e.roundsNote(),
		},
	})
	return nil
}

// pyProtocol uploads the files as the Python SDK's upload_file does, n at
// once: hash, create, PUT the bytes to the uploadUrl, then find by id.
func pyProtocol(ctx context.Context, host, dir string, paths []string, n int) error {
	hc := httpClient(n)
	return eachAtOnce(paths, n, func(p string) error {
		if err := pyUpload(ctx, hc, host, dir, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	})
}

// apiFile is the part of the contract's File that pyUpload reads.
type apiFile struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func pyUpload(ctx context.Context, hc *http.Client, host, dir, path string) error {
	sum, err := goSHA256(path)
	if err != nil {
		return err
	}
	name, _ := filepath.Rel(filepath.Dir(dir), path)
	var created struct {
		File      apiFile `json:"file"`
		UploadURL string  `json:"uploadUrl"`
	}
	if err := postJSON(ctx, hc, host+"/api/v0/file", map[string]string{"name": name, "sourceHash": sum}, &created); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, created.UploadURL, f)
	if err != nil {
		return err
	}
	req.ContentLength = fi.Size()
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("PUT: %s", resp.Status)
	}
	var found struct {
		Files []apiFile `json:"files"`
	}
	if err := postJSON(ctx, hc, host+"/api/v0/file/find", map[string][]string{"ids": {created.File.ID}}, &found); err != nil {
		return err
	}
	if len(found.Files) != 1 || found.Files[0].Status != "uploaded" {
		return fmt.Errorf("find after the PUT: %+v", found.Files)
	}
	return nil
}

// postJSON posts body as JSON with the bench key and decodes a 2xx answer into out.
func postJSON(ctx context.Context, hc *http.Client, url string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("POST %s: %s %s", url, resp.Status, msg)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
