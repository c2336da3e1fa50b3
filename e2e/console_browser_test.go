package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/perseus-go/perseus/internal/testenv"
)

// chromiumPath is Debian's chromium, which scripts/test installs.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where the console's tests save a PNG of each step: at
// the repository's root, ignored by git.
const screenshotDir = "../test-output/console"

// startBrowser starts one headless chromium for the tests of t (each of them
// opens tabs of its own in it) and closes it when t and its subtests end.
// Without chromium the test is skipped locally and fails in CI.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Unavailable(t, "no chromium at "+chromiumPath+": the console's browser tests need Debian's chromium (apt-get install chromium; scripts/test installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.WindowSize(1280, 900))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run as root with its sandbox
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

// tab is one page of the console in a browser context of its own (its own
// storage, cookies and downloads), recording what the page writes to its
// console and every request it makes.
type tab struct {
	t         *testing.T
	ctx       context.Context
	base      string // the perseus server (or the page's origin) the tab opened
	downloads string // where the tab's downloads go

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
	requests []string // URL of every request the page sent
}

// newTab opens a tab in a new browser context of b.
func newTab(t *testing.T, b context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	tb := &tab{t: t, ctx: ctx, downloads: t.TempDir()}
	_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: tb.downloads,
		BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
	})
	if err != nil {
		t.Fatalf("Browser.setDownloadBehavior: %v", err)
	}
	messages := chromedp.Console(ctx)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.messages = append(tb.messages, m)
			tb.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.requests = append(tb.requests, ev.Request.URL)
			tb.mu.Unlock()
		}
	}()
	return tb
}

// do runs actions in the tab, failing the test on an error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fail("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.fail("evaluating %s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds, for up to d; on
// timeout the test fails with what the page's uploads and rows then were.
func (tb *tab) waitFor(what, cond string, d time.Duration) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+cond+")",
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		tb.fail("waiting %s for %s (%s): %v", d, what, cond, err)
	}
}

// fail saves a screenshot named for the test and fails it, saying what the
// page showed.
func (tb *tab) fail(format string, args ...any) {
	tb.t.Helper()
	name := "failed-" + strings.NewReplacer("/", "-", " ", "_").Replace(tb.t.Name())
	tb.trySnap(name)
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](pageStateJS))
	tb.t.Fatalf(format+"\npage: %s\nconsole: %s\n(screenshot: %s)", append(args, state, tb.consoleText(), filepath.Join(screenshotDir, name+".png"))...)
}

// pageStateJS describes what the console shows, for a failure's message.
const pageStateJS = `(() => {
	const q = (s) => [...document.querySelectorAll(s)];
	const txt = (s) => { const e = document.querySelector(s); return e ? e.textContent.trim() : "(none)"; };
	return JSON.stringify({
		url: location.href,
		signinError: txt("#signin-error"), error: txt("#error"), notice: txt("#notice"),
		live: document.querySelector("#live")?.dataset.state,
		uploads: q("li.upload").map((li) => ({...li.dataset, message: li.querySelector(".upload-message")?.textContent})),
		interrupted: q("li.interrupted").map((li) => li.dataset.name),
		rows: q("tr.file").map((tr) => tr.dataset.name + ":" + tr.dataset.status).slice(0, 20),
	});
})()`

// snap saves a PNG of the page as test-output/console/NAME.png.
func (tb *tab) snap(name string) {
	tb.t.Helper()
	if err := tb.trySnap(name); err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
}

func (tb *tab) trySnap(name string) error {
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644)
}

// consoleErrors are the messages of the page's console that are errors:
// exceptions, console.error calls and browser log entries of level error
// (a CSP violation, a failed load).
func (tb *tab) consoleErrors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, m := range tb.messages {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			out = append(out, fmt.Sprintf("%s (%s%s %s:%d)", m.Text, m.Type, source(m.Source), m.URL, m.Line+1))
		}
	}
	return out
}

func source(s string) string {
	if s == "" {
		return ""
	}
	return ", " + s
}

func (tb *tab) consoleText() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var b strings.Builder
	for _, m := range tb.messages {
		fmt.Fprintf(&b, "\n  %s: %s", m.Type, m.Text)
	}
	return b.String()
}

// requested returns the URL of every request the page has sent.
func (tb *tab) requested() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.requests...)
}

// open loads the console at url and waits for its sign-in form.
func (tb *tab) open(url string) {
	tb.t.Helper()
	tb.base = url
	tb.do("opening "+url, chromedp.Navigate(url))
	tb.waitFor("the sign-in form", visibleJS("form#signin"), 10*time.Second)
}

// signIn types key into the sign-in form, submits it and waits until the
// console is signed in with its events stream live.
func (tb *tab) signIn(key string) {
	tb.t.Helper()
	tb.do("signing in", chromedp.SendKeys(chromedp.CSS("#api-key"), key), chromedp.Click(chromedp.CSS("#signin-submit")))
	tb.waitLive()
}

// waitLive waits until the console shows main#app and its events stream is live.
func (tb *tab) waitLive() {
	tb.t.Helper()
	tb.waitFor("the signed-in console with its events stream live",
		visibleJS("main#app")+` && document.querySelector("#live")?.dataset.state === "live"`, 15*time.Second)
}

// pick sets the files (or, for #pick-folder, a folder) of a file input, as a
// person choosing them in the file picker.
func (tb *tab) pick(input string, paths ...string) {
	tb.t.Helper()
	tb.do("picking "+strings.Join(paths, ", ")+" in "+input, chromedp.SetUploadFiles(chromedp.CSS(input), paths))
}

// visibleJS is a condition that the first element matching sel is shown.
func visibleJS(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.checkVisibility() && !e.closest("[hidden]"); })()`, sel)
}

// uploadJS selects the li.upload of the file recorded as name.
func uploadJS(name string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("li.upload")].find((li) => li.dataset.name === %q)`, name)
}

// rowJS selects the tr.file of the file id.
func rowJS(id string) string {
	return fmt.Sprintf(`document.querySelector('tr.file[data-file-id=%q]')`, id)
}

// waitUploads waits until the page has an li.upload in state for each name.
func (tb *tab) waitUploads(state string, d time.Duration, names ...string) {
	tb.t.Helper()
	var conds []string
	for _, n := range names {
		conds = append(conds, fmt.Sprintf(`(%s)?.dataset.state === %q`, uploadJS(n), state))
	}
	tb.waitFor(fmt.Sprintf("%v to be %s", names, state), strings.Join(conds, " && "), d)
}

// waitDownload waits until the tab's download folder holds one finished
// file and returns its content.
func (tb *tab) waitDownload(d time.Duration) []byte {
	tb.t.Helper()
	deadline := time.Now().Add(d)
	for {
		entries, _ := os.ReadDir(tb.downloads)
		var done []string
		partial := false
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".crdownload") {
				partial = true
			} else {
				done = append(done, e.Name())
			}
		}
		if len(done) == 1 && !partial {
			b, err := os.ReadFile(filepath.Join(tb.downloads, done[0]))
			if err != nil {
				tb.t.Fatal(err)
			}
			for _, e := range entries {
				os.Remove(filepath.Join(tb.downloads, e.Name()))
			}
			return b
		}
		if time.Now().After(deadline) {
			tb.fail("no download finished in %s (folder: %v)", d, entries)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
