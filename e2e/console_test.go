package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/perseus-go/perseus/internal/testenv"
)

// TestConsole drives the web console that perseus serve serves at / in a
// headless chromium, as a person would (web/README.md names the DOM it
// holds the console to). One browser serves every subtest; each opens its
// own tabs in a browser context of its own, against a server of its own.
// Screenshots of the steps go to test-output/console/ at the repository's root.
func TestConsole(t *testing.T) {
	b := startBrowser(t)
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *tab)
	}{
		{"SignInTakesAGoodKeyRefusesAWrongOneAndSignOutForgetsIt", consoleSignIn},
		{"UploadsTwoFilesAndAFolderUnderTheCLIsRelativeNames", consoleUploads},
		{"DroppedFilesAndFoldersUploadUnderTheCLIsRelativeNames", consoleDrop},
		{"KnownContentIsAlreadyUploadedWithNoByteSent", consoleKnown},
		{"AReloadMidUploadResumesFromTheServersOffset", consoleReloadResumes},
		{"RowsFollowTheEventsStreamWithoutPollingAndShowWhyAFileFailed", consoleLive},
		{"BrowseFiltersPagesDownloadsAndDeletesAfterAConfirmation", consoleBrowse},
		{"UploadsAndDownloadsOnPostgresAndS3", consolePostgresS3},
		{"HasNoConsoleErrorsTalksOnlyToItsOriginAndSendsACSP", consoleClean},
		{"ServedFromAnotherOriginSignsInAndUploadsThroughCORS", consoleElsewhere},
		{"KeyboardAloneSignsInAndConfirmsADelete", consoleKeyboard},
		{"AtPhoneWidthShowsTheControlsWithNoSidewaysScroll", consolePhone},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newTab(t, b))
		})
	}
}

// consoleSignIn: a wrong key is refused with a message and is not kept; a
// good key signs in, kept in the tab's sessionStorage only; a fresh tenant
// sees the empty state; sign-out forgets the key and shows the sign-in form.
func consoleSignIn(t *testing.T, tb *tab) {
	p := consoleServer(t)
	tb.open(p.URL)
	tb.do("signing in with a wrong key", chromedp.SendKeys(chromedp.CSS("#api-key"), "not-the-key"), chromedp.Click(chromedp.CSS("#signin-submit")))
	tb.waitFor("#signin-error saying the key was not accepted",
		visibleJS("#signin-error")+` && /not accepted/i.test(document.querySelector("#signin-error").textContent)`, 10*time.Second)
	tb.snap("signin-error")
	if v := eval[string](tb, `sessionStorage.getItem("perseus.key") ?? ""`); v != "" {
		t.Errorf("a refused key was kept in sessionStorage: %q", v)
	}
	if eval[bool](tb, visibleJS("main#app")) {
		t.Error("main#app is shown after a refused key")
	}

	eval[string](tb, `document.querySelector("#api-key").value = ""`)
	tb.signIn(p.Key)
	if v := eval[string](tb, `sessionStorage.getItem("perseus.key") ?? ""`); v != p.Key {
		t.Errorf("sessionStorage perseus.key = %q after signing in, want the key", v)
	}
	if n := eval[int](tb, `Object.keys(localStorage).filter((k) => localStorage.getItem(k).includes(`+jsString(p.Key)+`)).length`); n != 0 {
		t.Errorf("the key is in localStorage (%d entries): it belongs to the tab's sessionStorage only", n)
	}
	tb.waitFor("#files-empty on a tenant with no file", visibleJS("#files-empty"), 10*time.Second)
	if text := eval[string](tb, `document.querySelector("#files-empty").textContent`); !mentions(text, "drop", "pick", "upload") {
		t.Errorf("#files-empty does not say what to do: %q", text)
	}
	tb.snap("signed-in-empty")

	tb.do("signing out", chromedp.Click(chromedp.CSS("#signout")))
	tb.waitFor("the sign-in form after sign-out", visibleJS("form#signin")+" && !"+visibleJS("main#app"), 10*time.Second)
	if v := eval[bool](tb, `sessionStorage.getItem("perseus.key") === null`); !v {
		t.Error("sign-out left perseus.key in sessionStorage")
	}
	tb.do("reloading", chromedp.Reload())
	tb.waitFor("the sign-in form after a reload once signed out", visibleJS("form#signin")+" && !"+visibleJS("main#app"), 10*time.Second)
}

// consoleUploads: two picked files and a picked folder (its path set on the
// webkitdirectory input with DOM.setFileInputFiles, as a person choosing
// it) each reach uploaded, the folder's files named by their path from the
// folder's parent with dotfiles and .git skipped; the server holds each,
// uploaded, with the local file's SHA-256.
func consoleUploads(t *testing.T, tb *tab) {
	p := consoleServer(t)
	dir := t.TempDir()
	a, _ := writeRandom(t, dir, "a.bin", 300<<10)
	b, _ := writeRandom(t, dir, "b.txt", 1000)
	folder := filepath.Join(dir, "photos")
	for _, d := range []string{"2026", ".git"} {
		if err := os.MkdirAll(filepath.Join(folder, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeRandom(t, filepath.Join(folder, "2026"), "x.jpg", 50<<10)
	writeRandom(t, folder, "readme.txt", 200)
	writeRandom(t, folder, ".hidden", 10)
	writeRandom(t, filepath.Join(folder, ".git"), "config", 10)
	local := map[string]string{
		"a.bin": a, "b.txt": b,
		"photos/2026/x.jpg": filepath.Join(folder, "2026", "x.jpg"), "photos/readme.txt": filepath.Join(folder, "readme.txt"),
	}

	tb.open(p.URL)
	tb.signIn(p.Key)
	tb.pick("#pick-files", a, b)
	tb.pick("#pick-folder", folder)
	names := []string{"a.bin", "b.txt", "photos/2026/x.jpg", "photos/readme.txt"}
	tb.waitUploads("uploaded", 60*time.Second, names...)
	if got := eval[[]string](tb, `[...document.querySelectorAll("li.upload")].map((li) => li.dataset.name).sort()`); strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("li.upload names = %v, want %v (dotfiles and .git skipped)", got, names)
	}
	for _, n := range names {
		tb.waitFor(n+"'s row uploaded", fmt.Sprintf(`document.querySelector('tr.file[data-name=%q]')?.dataset.status === "uploaded"`, n), 10*time.Second)
	}
	tb.snap("uploaded")

	files := byName(listAll(t, p))
	if len(files) != len(names) {
		t.Errorf("the server has %d files, want %d: %v", len(files), len(names), files)
	}
	for _, n := range names {
		f, ok := files[n]
		switch want := fileSHA256(t, local[n]); {
		case !ok:
			t.Errorf("the server has no file named %q", n)
		case f.Status != "uploaded" || f.SourceHash != want:
			t.Errorf("%s on the server: status %s, sha256 %s; want uploaded, %s", n, f.Status, f.SourceHash, want)
		}
		if id := eval[string](tb, `(`+uploadJS(n)+`)?.dataset.fileId ?? ""`); id != files[n].ID {
			t.Errorf("li.upload %s data-file-id = %q, the server's id is %q", n, id, files[n].ID)
		}
	}
}

// consoleKnown: a file whose content the tenant has uploaded already is
// "known", links to the existing file, and no content byte reaches the
// server (its request body bytes on the tus and upload routes do not move).
func consoleKnown(t *testing.T, tb *tab) {
	p := consoleServer(t)
	content := make([]byte, 200<<10)
	rand.Read(content)
	first := uploadHTTP(t, p, "first.bin", content)
	again := filepath.Join(t.TempDir(), "again.bin")
	if err := os.WriteFile(again, content, 0o600); err != nil {
		t.Fatal(err)
	}

	tb.open(p.URL)
	tb.signIn(p.Key)
	before := bodyBytes(t, p)
	tb.pick("#pick-files", again)
	tb.waitUploads("known", 30*time.Second, "again.bin")
	link := eval[string](tb, `(`+uploadJS("again.bin")+`).querySelector("a.existing-file")?.getAttribute("href") ?? ""`)
	if link != "#/files/"+first.ID {
		t.Errorf("a.existing-file href = %q, want #/files/%s", link, first.ID)
	}
	tb.snap("already-uploaded")
	after := bodyBytes(t, p)
	if sent := contentBytes(after) - contentBytes(before); sent != 0 {
		t.Errorf("the server read %d content bytes for known content, want 0 (before %v, after %v)", sent, before, after)
	}
	if files := listAll(t, p); len(files) != 1 {
		t.Errorf("the server has %d files after a known file, want 1: %v", len(files), files)
	}
	tb.do("following the link to the existing file", chromedp.Click(chromedp.CSS("a.existing-file")))
	tb.waitFor("the existing file's row highlighted", rowJS(first.ID)+`?.classList.contains("highlight")`, 10*time.Second)
}

// consoleReloadResumes: a large file's upload is cut by a reload of the
// page (the page loaded through a proxy that slows request bodies, so that
// the reload lands mid-way); after the reload the console lists it as
// interrupted, and the same file picked again resumes from the server's
// offset: the server reads about the file's size in all, not twice it.
func consoleReloadResumes(t *testing.T, tb *tab) {
	const size = 256 << 20
	p := consoleServer(t)
	th := newThrottle(t, p.URL)
	path := filepath.Join(t.TempDir(), "large.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 1<<20) // random head, sparse rest: content no other test has, written at once
	rand.Read(head)
	if _, err := f.Write(head); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := fileSHA256(t, path)

	tb.open(th.URL)
	tb.signIn(p.Key)
	th.rate.Store(32 << 20)
	tb.pick("#pick-files", path)
	deadline := time.Now().Add(90 * time.Second)
	for th.passed.Load() < size/4 {
		if time.Now().After(deadline) {
			tb.fail("only %d bytes reached the server in 90 s", th.passed.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.snap("upload-in-progress")
	cutAt := th.passed.Load()
	tb.do("reloading mid-upload", chromedp.Reload())
	tb.waitLive()
	tb.waitFor("li.interrupted for large.bin", fmt.Sprintf(`[...document.querySelectorAll("li.interrupted")].some((li) => li.dataset.name === %q)`, "large.bin"), 15*time.Second)
	tb.snap("interrupted-after-reload")
	th.rate.Store(0)

	tb.pick("#pick-files", path)
	tb.waitUploads("uploaded", 180*time.Second, "large.bin")
	from := eval[string](tb, `(`+uploadJS("large.bin")+`).dataset.resumedFrom ?? ""`)
	var resumed int64
	fmt.Sscan(from, &resumed)
	if resumed <= 0 {
		t.Errorf("data-resumed-from = %q after picking the interrupted file again, want > 0", from)
	}
	got := byName(listAll(t, p))["large.bin"]
	if got.Status != "uploaded" || got.SourceHash != want || got.Size != size {
		t.Errorf("large.bin on the server: %+v; want uploaded, %d bytes, sha256 %s", got, size, want)
	}
	received := contentBytes(bodyBytes(t, p))
	t.Logf("cut after %d bytes had passed the proxy; resumed from %d; the server read %d content bytes for a %d-byte file", cutAt, resumed, received, int64(size))
	if received > size+size/10 {
		t.Errorf("the server read %d content bytes for a %d-byte file: the upload restarted instead of resuming", received, int64(size))
	}
}

// consoleLive: a file another client creates and uploads appears in the
// list and turns uploaded with no reload and no listing request; a file
// whose bytes do not match its hash turns failed, showing the server's reason.
func consoleLive(t *testing.T, tb *tab) {
	p := consoleServer(t)
	tb.open(p.URL)
	tb.signIn(p.Key)
	tb.waitFor("#files-empty", visibleJS("#files-empty"), 10*time.Second)
	sent := len(tb.requested())

	content := []byte("uploaded by another client while the console is open\n")
	f, u := create(t, p, "live/new.txt", sha256Hex(content))
	tb.waitFor("the new file's row", rowJS(f.ID)+` !== null`, 10*time.Second)
	if code := put(t, u, content); code != http.StatusOK {
		t.Fatalf("PUT: %d", code)
	}
	tb.waitFor("the new file's row uploaded", rowJS(f.ID)+`?.dataset.status === "uploaded"`, 10*time.Second)

	bad, u2 := create(t, p, "live/broken.txt", sha256Hex([]byte("what was promised")))
	if code := put(t, u2, []byte("something else")); code != http.StatusUnprocessableEntity {
		t.Fatalf("PUT of bytes that do not match: %d, want 422", code)
	}
	got, _ := getFile(t, p, bad.ID)
	if got.Status != "failed" || got.Reason == "" {
		t.Fatalf("the server has %+v, want failed with a reason", got)
	}
	tb.waitFor("the broken file's row failed with the server's reason",
		rowJS(bad.ID)+`?.dataset.status === "failed" && `+rowJS(bad.ID)+`.textContent.includes(`+jsString(got.Reason)+`)`, 10*time.Second)
	tb.snap("failed")
	for _, r := range tb.requested()[sent:] {
		if strings.HasPrefix(r, p.URL+"/api/v0/file") {
			t.Errorf("the page requested %s while following the events: rows must change from the events stream, not a poll", r)
		}
	}
}

// consoleBrowse: the list pages by #files-more (newest first), filters by
// status and name prefix, shows #files-empty when nothing matches,
// downloads a file's exact bytes, and deletes only after "yes" in
// dialog#confirm-delete, as the server then agrees.
func consoleBrowse(t *testing.T, tb *tab) {
	p := consoleServer(t)
	var batch []map[string]string
	for i := range 55 {
		h := make([]byte, 32)
		rand.Read(h)
		batch = append(batch, map[string]string{"name": fmt.Sprintf("batch/%03d.txt", i), "sourceHash": hex.EncodeToString(h)})
	}
	if code, body := call(t, p, "POST", "/api/v0/file/batch", map[string]any{"files": batch}); code >= 300 {
		t.Fatalf("POST /api/v0/file/batch: %d %s", code, body)
	}
	contentA, contentB := make([]byte, 70<<10), make([]byte, 1234)
	rand.Read(contentA)
	rand.Read(contentB)
	docA := uploadHTTP(t, p, "docs/a.bin", contentA)
	uploadHTTP(t, p, "docs/b.bin", contentB)

	tb.open(p.URL)
	tb.signIn(p.Key)
	rows := `document.querySelectorAll("tr.file").length`
	tb.waitFor("the first page of 50 rows", rows+` === 50 && `+visibleJS("#files-more"), 10*time.Second)
	if first := eval[string](tb, `document.querySelector("tr.file").dataset.name`); first != "docs/b.bin" {
		t.Errorf("the first row is %q, want the newest, docs/b.bin", first)
	}
	tb.do("loading the next page", chromedp.Click(chromedp.CSS("#files-more")))
	tb.waitFor("all 57 rows and no more button", rows+` === 57 && !`+visibleJS("#files-more"), 10*time.Second)
	tb.snap("list")

	setField := func(sel, value string) {
		tb.t.Helper()
		eval[bool](tb, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
			e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, sel, value))
	}
	only := func(what, cond string, n int) {
		tb.t.Helper()
		tb.waitFor(fmt.Sprintf("%d rows, all %s", n, what),
			fmt.Sprintf(`(() => { const r = [...document.querySelectorAll("tr.file")]; return r.length === %d && r.every((tr) => %s); })()`, n, cond), 10*time.Second)
	}
	setField("#filter-status", "uploaded")
	only("uploaded", `tr.dataset.status === "uploaded"`, 2)
	setField("#filter-status", "pending")
	only("pending", `tr.dataset.status === "pending"`, 50)
	setField("#filter-status", "")
	setField("#filter-name", "batch/01")
	only("named batch/01…", `tr.dataset.name.startsWith("batch/01")`, 10)
	setField("#filter-name", "nothing-here/")
	tb.waitFor("#files-empty when nothing matches", visibleJS("#files-empty")+` && `+rows+` === 0`, 10*time.Second)
	tb.snap("filtered-empty")
	setField("#filter-name", "docs/")
	only("named docs/…", `tr.dataset.name.startsWith("docs/")`, 2)

	tb.do("downloading docs/a.bin", chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr.file[data-file-id=%q] button.download`, docA.ID))))
	if got := tb.waitDownload(20 * time.Second); !bytes.Equal(got, contentA) {
		t.Errorf("downloaded %d bytes, not docs/a.bin's %d", len(got), len(contentA))
	}

	del := chromedp.CSS(fmt.Sprintf(`tr.file[data-file-id=%q] button.delete`, docA.ID))
	dialogOpen := `document.querySelector("dialog#confirm-delete").open`
	tb.do("asking to delete docs/a.bin", chromedp.Click(del))
	tb.waitFor("dialog#confirm-delete", dialogOpen, 5*time.Second)
	tb.snap("confirm-delete")
	tb.do("answering no", chromedp.Click(chromedp.CSS("#confirm-delete-no")))
	tb.waitFor("the dialog closed", "!"+dialogOpen, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if _, code := getFile(t, p, docA.ID); code != http.StatusOK || !eval[bool](tb, rowJS(docA.ID)+` !== null`) {
		t.Errorf("after no: GET %d, row shown %v; want the file kept", code, eval[bool](tb, rowJS(docA.ID)+` !== null`))
	}
	tb.do("asking again", chromedp.Click(del))
	tb.waitFor("dialog#confirm-delete", dialogOpen, 5*time.Second)
	tb.do("answering yes", chromedp.Click(chromedp.CSS("#confirm-delete-yes")))
	tb.waitFor("the row gone", rowJS(docA.ID)+` === null`, 10*time.Second)
	if _, code := getFile(t, p, docA.ID); code != http.StatusNotFound {
		t.Errorf("GET of the deleted file: %d, want 404", code)
	}
}

// consolePostgresS3: the console works the same on PostgreSQL and S3: a
// picked file turns uploaded and downloads with its bytes.
func consolePostgresS3(t *testing.T, tb *tab) {
	p := consoleServer(t, "--db", freshSchema(t), "--blobs", testenv.S3URL(t, "console"))
	path, want := writeRandom(t, t.TempDir(), "on-s3.bin", 3<<20)
	tb.open(p.URL)
	tb.signIn(p.Key)
	tb.pick("#pick-files", path)
	tb.waitUploads("uploaded", 60*time.Second, "on-s3.bin")
	f := byName(listAll(t, p))["on-s3.bin"]
	if f.Status != "uploaded" || f.SourceHash != want {
		t.Fatalf("on-s3.bin on the server: %+v, want uploaded with sha256 %s", f, want)
	}
	tb.waitFor("its row uploaded", rowJS(f.ID)+`?.dataset.status === "uploaded"`, 10*time.Second)
	tb.do("downloading it", chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr.file[data-file-id=%q] button.download`, f.ID))))
	if got := tb.waitDownload(30 * time.Second); sha256Hex(got) != want {
		t.Errorf("downloaded %d bytes that do not hash to the file's sha256", len(got))
	}
}

// consoleClean: through sign-in, an upload, the list and a download, the
// page logs no error, exception or CSP violation, sends every request to
// its own origin and never puts the key in a URL; / carries a CSP that
// forbids inline script.
func consoleClean(t *testing.T, tb *tab) {
	p := consoleServer(t)
	resp, err := http.Get(p.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if script := cspDirective(csp, "script-src", "default-src"); script == "" || strings.Contains(script, "'unsafe-inline'") {
		t.Errorf("GET / Content-Security-Policy %q: want one whose script-src (or default-src) forbids inline script", csp)
	}

	path, _ := writeRandom(t, t.TempDir(), "clean.bin", 100<<10)
	content, _ := os.ReadFile(path)
	tb.open(p.URL)
	if n := eval[int](tb, `document.querySelectorAll("script:not([src])").length`); n != 0 {
		t.Errorf("the page has %d inline scripts", n)
	}
	tb.signIn(p.Key)
	tb.pick("#pick-files", path)
	tb.waitUploads("uploaded", 30*time.Second, "clean.bin")
	id := eval[string](tb, `(`+uploadJS("clean.bin")+`).dataset.fileId`)
	tb.waitFor("its row uploaded", rowJS(id)+`?.dataset.status === "uploaded"`, 10*time.Second)
	tb.do("downloading it", chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr.file[data-file-id=%q] button.download`, id))))
	if got := tb.waitDownload(20 * time.Second); !bytes.Equal(got, content) {
		t.Errorf("downloaded %d bytes, not the file's", len(got))
	}
	time.Sleep(500 * time.Millisecond) // late messages
	if errs := tb.consoleErrors(); len(errs) > 0 {
		t.Errorf("the page's console has errors:\n  %s", strings.Join(errs, "\n  "))
	}
	reqs := tb.requested()
	if len(reqs) == 0 {
		t.Fatal("no request recorded: the network events did not arrive")
	}
	for _, r := range reqs {
		if !strings.HasPrefix(r, p.URL+"/") && !strings.HasPrefix(r, "blob:"+p.URL+"/") && !strings.HasPrefix(r, "data:") {
			t.Errorf("a request to another origin: %s", r)
		}
		if strings.Contains(r, p.Key) {
			t.Errorf("the API key is in a URL: %s", r)
		}
	}
}

// cspDirective returns the value of the first of names the policy has.
func cspDirective(policy string, names ...string) string {
	dirs := map[string]string{}
	for _, d := range strings.Split(policy, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			dirs[strings.ToLower(f[0])] = strings.Join(f[1:], " ")
		}
	}
	for _, n := range names {
		if v, ok := dirs[n]; ok {
			return n + " " + v
		}
	}
	return ""
}

// consoleElsewhere: web/dist served by another origin, its meta
// perseus-api naming the server, which allows that origin by
// --cors-origin: sign-in and a tus upload work across origins.
func consoleElsewhere(t *testing.T, tb *tab) {
	var api string
	site := serveDistElsewhere(t, func() string { return api })
	p := consoleServer(t, "--cors-origin", site)
	api = p.URL
	path, want := writeRandom(t, t.TempDir(), "cross.bin", 500<<10)

	tb.open(site)
	tb.signIn(p.Key)
	tb.pick("#pick-files", path)
	tb.waitUploads("uploaded", 30*time.Second, "cross.bin")
	if f := byName(listAll(t, p))["cross.bin"]; f.Status != "uploaded" || f.SourceHash != want {
		t.Errorf("cross.bin on the server: %+v, want uploaded with sha256 %s", f, want)
	}
	tus := false
	for _, r := range tb.requested() {
		tus = tus || strings.HasPrefix(r, p.URL+"/api/v0/tus/")
	}
	if !tus {
		t.Errorf("the page sent nothing to %s/api/v0/tus/: %v", p.URL, tb.requested())
	}
}

// keyPress sends one key to whatever has the focus.
func (tb *tab) keyPress(key string) {
	tb.t.Helper()
	tb.do("pressing "+fmt.Sprintf("%q", key), chromedp.KeyEvent(key))
}

// tabTo presses Tab until the element matching sel has the focus.
func (tb *tab) tabTo(sel string, most int) {
	tb.t.Helper()
	for range most {
		if eval[bool](tb, fmt.Sprintf(`!!document.activeElement?.matches(%q)`, sel)) {
			return
		}
		tb.keyPress(kbTab)
	}
	tb.fail("%d presses of Tab did not reach %s (focus on %s)", most, sel, eval[string](tb, `document.activeElement?.outerHTML.slice(0, 120) ?? "nothing"`))
}

const kbTab, kbEnter = "\t", "\r"

// consoleKeyboard: with key presses alone, a person signs in and deletes a
// file through the confirmation dialog.
func consoleKeyboard(t *testing.T, tb *tab) {
	p := consoleServer(t)
	f := uploadHTTP(t, p, "keyboard.txt", []byte("deleted by keyboard\n"))
	tb.open(p.URL)
	tb.tabTo("#api-key", 10)
	tb.do("typing the key", chromedp.KeyEvent(p.Key))
	tb.keyPress(kbEnter)
	tb.waitLive()
	tb.waitFor("the file's row", rowJS(f.ID)+` !== null`, 10*time.Second)
	tb.tabTo(fmt.Sprintf(`tr.file[data-file-id=%q] button.delete`, f.ID), 60)
	tb.keyPress(kbEnter)
	tb.waitFor("dialog#confirm-delete", `document.querySelector("dialog#confirm-delete").open`, 5*time.Second)
	tb.tabTo("#confirm-delete-yes", 5)
	tb.keyPress(kbEnter)
	tb.waitFor("the row gone", rowJS(f.ID)+` === null`, 10*time.Second)
	if _, code := getFile(t, p, f.ID); code != http.StatusNotFound {
		t.Errorf("GET of the file deleted by keyboard: %d, want 404", code)
	}
}

// consolePhone: at 375×740 the upload and browse controls are on screen
// and the page does not scroll sideways.
func consolePhone(t *testing.T, tb *tab) {
	p := consoleServer(t)
	uploadHTTP(t, p, "a-rather-long-folder-name/with-a-long-file-name-for-a-phone.txt", []byte("phone\n"))
	tb.do("emulating a phone", chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile))
	tb.open(p.URL)
	tb.signIn(p.Key)
	tb.waitFor("a row", `document.querySelector("tr.file") !== null`, 10*time.Second)
	for _, sel := range []string{"#dropzone", "#pick-files", "#pick-folder", "#filter-status", "#filter-name", "table#files", "#signout"} {
		// A file input may be hidden behind its label, which is what a person taps.
		shown := eval[string](tb, fmt.Sprintf(`(() => {
			let e = document.querySelector(%q);
			if (!e) return "missing";
			if (!e.checkVisibility() && e.labels && e.labels.length) e = e.labels[0];
			const r = e.getBoundingClientRect();
			if (!e.checkVisibility() || r.width === 0 || r.height === 0) return "not visible";
			if (r.left < 0 || r.left >= innerWidth) return "off screen sideways (left " + r.left + ")";
			return "";
		})()`, sel))
		if shown != "" {
			t.Errorf("at 375 px wide %s is %s", sel, shown)
		}
	}
	if w := eval[[]int](tb, `[document.documentElement.scrollWidth, innerWidth]`); w[0] > w[1] {
		t.Errorf("at 375 px wide the page scrolls sideways: scrollWidth %d > innerWidth %d", w[0], w[1])
	}
	tb.snap("phone-width")
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string { return fmt.Sprintf("%q", s) }

// mentions says whether text mentions any of words, ignoring case.
func mentions(text string, words ...string) bool {
	text = strings.ToLower(text)
	for _, w := range words {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}
