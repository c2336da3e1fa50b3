package main

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/perseus-go/perseus/web"
)

// hashPage is a tab on the console's page, which runs the console's own
// hashing worker (web/src/hash-worker.js, built into dist/assets) on a
// file set on an input the bench adds to the page.
type hashPage struct {
	ctx    context.Context
	close  func()
	worker string // the worker's path on the server
	how    string // what a timing is, for the notes
}

// hashChunk is the slice the console gives its worker (web/src/hasher.js).
const hashChunk = 8 << 20

func openHashPage(b context.Context, url string) (*hashPage, error) {
	workers, err := fs.Glob(web.Dist(), "assets/hash-worker-*.js")
	if err != nil || len(workers) != 1 {
		return nil, fmt.Errorf("the console's build has %d hashing workers (assets/hash-worker-*.js), want 1", len(workers))
	}
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil { // opens the tab, bound to ctx (not to the timeout below)
		cancel()
		return nil, err
	}
	tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	defer tcancel()
	err = chromedp.Do(tctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("#pick-files")),
		chromedp.Evaluate[chromedp.Void](`(() => { const i = document.createElement("input"); i.type = "file"; i.id = "bench-hash"; document.body.append(i); })()`))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("opening the console at %s: %w", url, err)
	}
	return &hashPage{ctx: ctx, close: cancel, worker: "/" + workers[0],
		how: fmt.Sprintf("the console's hashing worker (/%s: hash-wasm's streaming SHA-256, the file read in slices of %d MiB with "+
			"File.slice().arrayBuffer(), as the console gives it) in a page of the console served by `perseus serve`, in headless "+
			"chromium; the file set on an input by DOM.setFileInputFiles; time = performance.now() in the page from posting the "+
			"File to the worker (already started and warmed on a 1-byte file) until its answer", workers[0], hashChunk>>20)}, nil
}

// hash sets path on the page's input and hashes it in the worker; it
// returns the hex SHA-256 and how long the worker took, as the page timed it.
func (h *hashPage) hash(ctx context.Context, path string) (string, time.Duration, error) {
	tctx, cancel := context.WithTimeout(h.ctx, 2*time.Minute)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	if err := chromedp.Do(tctx, chromedp.SetUploadFiles(chromedp.CSS("#bench-hash"), []string{path})); err != nil {
		return "", 0, err
	}
	type result struct {
		Hash  string  `json:"hash"`
		MS    float64 `json:"ms"`
		Error string  `json:"error"`
	}
	r, err := chromedp.Run(tctx, chromedp.Evaluate[result](fmt.Sprintf(`(async () => {
		const w = window.benchWorker || (window.benchWorker = new Worker(%q));
		const run = (id, file) => new Promise((resolve) => {
			w.onmessage = (e) => { if (e.data.id === id && e.data.type !== "progress") resolve(e.data); };
			w.onerror = (e) => { e.preventDefault(); resolve({type: "error", message: "the worker failed: " + (e.message || "no message")}); };
			w.postMessage({id, file, chunkSize: %d});
		});
		await run(-1, new File(["x"], "warm"));
		const file = document.querySelector("#bench-hash").files[0];
		const t0 = performance.now();
		const m = await run(1, file);
		const ms = performance.now() - t0;
		return m.type === "done" ? {hash: m.hash, ms} : {error: m.type + ": " + (m.message || "")};
	})()`, h.worker, hashChunk), chromedp.EvalAwaitPromise))
	if err != nil {
		return "", 0, err
	}
	if r.Error != "" {
		return "", 0, fmt.Errorf("the console's hashing worker: %s", r.Error)
	}
	return r.Hash, time.Duration(r.MS * float64(time.Millisecond)), nil
}
