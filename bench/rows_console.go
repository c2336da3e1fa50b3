package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/perseus-go/perseus"
)

// consoleRow is the row number of the web console in headless chromium.
const consoleRow = 10

// consoleSize is row 10's file: 256 MiB (issue 16), 8 MiB in smoke runs.
func (e *env) consoleSize() int64 {
	if e.smokeMode {
		return 8 << 20
	}
	return 256 << 20
}

// rowConsole measures row 10: the web console in headless chromium (issue
// 16). Its hashing worker's SHA-256 of a file against the Go SDK's
// perseus.HashFile of it; then a new file picked in the console until its
// row says uploaded, against `perseus file upload F --wait` of it, each
// against a `perseus serve` started for that timing alone.
func rowConsole(ctx context.Context, e *env, t *table) error {
	size := e.consoleSize()
	b, stop, err := startChromium(ctx)
	if err != nil {
		if err == errNoChromium {
			for _, what := range []string{"SHA-256 in the console's hashing worker", "new " + mib(size) + " file through the console"} {
				t.add(row{n: consoleRow, what: what + ", headless chromium", perseus: "skipped: " + err.Error(), target: "-", met: "-"})
			}
			return nil
		}
		return err
	}
	defer stop()
	path := filepath.Join(e.work, "console.bin")
	if err := writeFile(path, size, 10); err != nil {
		return err
	}
	defer os.Remove(path)
	want, err := goSHA256(path)
	if err != nil {
		return err
	}
	settle()

	// Hashing: one server for the page that loads the worker.
	s, err := e.startServer(ctx, filepath.Join(e.work, "console-hash-data"))
	if err != nil {
		return err
	}
	defer s.stop()
	hashPage, err := openHashPage(b, s.URL)
	if err != nil {
		return err
	}
	defer hashPage.close()
	inBrowser := &variant{name: "console's hashing worker", run: func(ctx context.Context, _ bool) (time.Duration, error) {
		var d time.Duration
		_, err := timed([]string{path}, func() error {
			got, took, err := hashPage.hash(ctx, path)
			if err == nil && got != want {
				err = fmt.Errorf("the worker's SHA-256 %s, want %s", got, want)
			}
			d = took
			return err
		})
		return d, err
	}}
	sdk := &variant{name: "perseus.HashFile", run: func(context.Context, bool) (time.Duration, error) {
		var got string
		d, err := timed([]string{path}, func() (err error) { got, _, err = perseus.HashFile(path); return err })
		if err == nil && got != want {
			err = fmt.Errorf("perseus.HashFile: %s, want %s", got, want)
		}
		return d, err
	}}
	if err := e.runRounds(ctx, consoleRow, inBrowser, sdk); err != nil {
		return err
	}
	s.stop()
	speed, _ := sdk.times.over(inBrowser.times) // the browser's speed over the SDK's
	t.add(row{n: consoleRow, what: "SHA-256 of a " + mib(size) + " file in the console's hashing worker, headless chromium",
		perseus: rate(size, inBrowser.times.median()) + ", " + inBrowser.times.String(), baseline: rate(size, sdk.times.median()) + ", " + sdk.times.String(),
		ratio: fmt.Sprintf("%.2f× the SDK's speed", speed), target: "report", met: "-",
		notes: []string{"perseus = " + hashPage.how + "; baseline = the Go SDK's perseus.HashFile (crypto/sha256, reading ahead on another " +
			"goroutine) of the same file in the bench's process; " + e.roundsNote()},
	})

	// End to end: a new file through the console against the CLI.
	var tabDone func()
	console := &variant{name: "console, pick → uploaded"}
	console.run = func(ctx context.Context, _ bool) (time.Duration, error) {
		var tab context.Context
		defer func() {
			if tabDone != nil {
				tabDone()
				tabDone = nil
			}
		}()
		return e.timeCLI(ctx, cliRun{
			inputs: []string{path},
			before: func(s *server) (err error) {
				tab, tabDone, err = consoleTab(b, s.URL)
				return err
			},
			driver: func(*server) error { return pickAndWait(tab, path, filepath.Base(path), 10*time.Minute) },
			after:  func(s *server) error { return checkUploaded(ctx, s, want) },
		})
	}
	cli := &variant{name: "perseus file upload --wait", run: func(ctx context.Context, _ bool) (time.Duration, error) {
		return e.timeCLI(ctx, cliRun{
			inputs: []string{path},
			args:   []string{"file", "upload", path, "--wait"},
			after:  func(s *server) error { return checkUploaded(ctx, s, want) },
		})
	}}
	if err := e.runRounds(ctx, consoleRow, console, cli); err != nil {
		return err
	}
	r, rs := console.times.over(cli.times)
	t.add(row{n: consoleRow, what: "new " + mib(size) + " file through the console in headless chromium, embedded server",
		perseus: console.times.String() + ", " + rate(size, console.times.median()), baseline: cli.times.String() + ", " + rate(size, cli.times.median()),
		ratio: rs, target: "≤ 2×", met: e.verdict(r <= 2),
		notes: []string{"perseus = the console served by a `perseus serve` started for that timing alone on a fresh --data (the embedded " +
			"default), in a tab of one headless chromium (a browser context of its own, signed in before the timing): time = from " +
			"setting the file on input#pick-files (DOM.setFileInputFiles) until its li.upload says uploaded (polled every 20 ms): " +
			"the console sends it at once by tus (tus-js-client, one PATCH; the server has no file of that size, so it does not ask " +
			"to hash first) while its worker hashes it (hash-wasm), and says uploaded once the server has answered uploaded and " +
			"the file's sourceHash equals the browser's hash; the server hashes every byte and makes it durable; baseline = `perseus file upload F --wait` as its own process against its own fresh server, as in row 1 " +
			"(the default: in order through tus, the file hashed once, by the server, and checked by a CRC the CLI computes); " + e.roundsNote()},
	})
	return nil
}
