package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium (scripts/test installs it).
const chromiumPath = "/usr/bin/chromium"

// errNoChromium says why the browser's row is skipped.
var errNoChromium = errors.New("no chromium at " + chromiumPath + " (apt-get install chromium; scripts/test installs it)")

// startChromium starts one headless chromium; stop it with the func.
func startChromium(ctx context.Context) (context.Context, func(), error) {
	if _, err := os.Stat(chromiumPath); err != nil {
		return nil, nil, errNoChromium
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.Headless)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run as root with its sandbox
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	b, cancel := chromedp.NewContext(alloc)
	stop := func() { cancel(); cancelAlloc() }
	if err := chromedp.Do(b); err != nil {
		stop()
		return nil, nil, fmt.Errorf("starting %s: %w", chromiumPath, err)
	}
	return b, stop, nil
}

// consoleTab opens a tab in a browser context of its own (fresh storage)
// on the console of the server at url and signs in with the bench's key.
func consoleTab(b context.Context, url string) (context.Context, func(), error) {
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil { // opens the tab, bound to ctx (not to the timeout below)
		cancel()
		return nil, nil, err
	}
	tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	defer tcancel()
	err := chromedp.Do(tctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#api-key")),
		chromedp.SendKeys(chromedp.CSS("#api-key"), apiKey),
		chromedp.Click(chromedp.CSS("#signin-submit")),
		chromedp.Poll[chromedp.Void](`document.querySelector("#live")?.dataset.state === "live" || null`,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)),
	)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("signing in to the console at %s: %w", url, err)
	}
	return ctx, cancel, nil
}

// pickAndWait picks path in the console's #pick-files and waits until its
// li.upload is uploaded (an error when it ends failed, error or cancelled).
func pickAndWait(ctx context.Context, path, name string, timeout time.Duration) error {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.SetUploadFiles(chromedp.CSS("#pick-files"), []string{path})); err != nil {
		return err
	}
	state, err := chromedp.Run(tctx, chromedp.Poll[string](fmt.Sprintf(`(() => {
		const li = [...document.querySelectorAll("li.upload")].find((li) => li.dataset.name === %q);
		const s = li && li.dataset.state;
		return ["uploaded", "known", "failed", "error", "cancelled"].includes(s) ? s + ": " + (li.querySelector(".upload-message")?.textContent ?? "") : null;
	})()`, name), chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		return fmt.Errorf("waiting for %s to be uploaded: %w", name, err)
	}
	if len(state) < 9 || state[:9] != "uploaded:" {
		return fmt.Errorf("%s ended %s in the console", name, state)
	}
	return nil
}
