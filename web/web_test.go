package web

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// sourceFiles are the files scripts/web-build reads, as SOURCES names
// them: from the repository's root.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"web/package.json", "web/package-lock.json", "scripts/web-build"}
	err := filepath.WalkDir("src", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, "web/"+filepath.ToSlash(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// TestDistIsBuiltFromTheSources recomputes dist/SOURCES from the sources:
// a source changed, added or removed without running scripts/web-build
// fails here, naming it.
func TestDistIsBuiltFromTheSources(t *testing.T) {
	recorded := map[string]string{}
	f, err := os.Open("dist/SOURCES")
	if err != nil {
		t.Fatalf("dist/SOURCES: %v: run scripts/web-build", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, path, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("dist/SOURCES: line %q is not \"SHA-256  path\"", sc.Text())
		}
		recorded[path] = sum
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, path := range sourceFiles(t) {
		b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(path)))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		switch want, ok := recorded[path]; {
		case !ok:
			t.Errorf("%s is not in dist/SOURCES (a new source?): web/dist is stale: run scripts/web-build", path)
		case want != hex.EncodeToString(sum[:]):
			t.Errorf("%s changed since web/dist was built: web/dist is stale: run scripts/web-build", path)
		}
		delete(recorded, path)
	}
	for path := range recorded {
		t.Errorf("%s is in dist/SOURCES but no longer a source: web/dist is stale: run scripts/web-build", path)
	}
}

var (
	// A src or href attribute, and what it names.
	reference = regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*"([^"]*)"`)
	// A script element with something between its tags.
	inlineScript = regexp.MustCompile(`(?is)<script\b[^>]*>\s*[^<\s][^<]*</script>`)
	// An inline style or event handler attribute, which the CSP forbids too.
	inlineAttr = regexp.MustCompile(`(?i)\s(?:style|on[a-z]+)\s*=`)
)

// TestIndexLoadsOnlyItsOwnFiles holds the page to its Content-Security-Policy
// (script-src 'self', no inline script) and to "nothing from another
// origin": every file it names is in dist, it has no inline script, style
// attribute or event handler, and no http:// or https:// URL.
func TestIndexLoadsOnlyItsOwnFiles(t *testing.T) {
	dist := Dist()
	b, err := fs.ReadFile(dist, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	refs := reference.FindAllStringSubmatch(page, -1)
	assets := 0
	for _, m := range refs {
		ref := m[1]
		if strings.HasPrefix(ref, "data:") {
			continue // the empty favicon (img-src allows data:)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(ref, "./"), "/")
		if !strings.HasPrefix(name, "assets/") {
			t.Errorf("index.html names %q: the page loads files from assets/ only", ref)
			continue
		}
		if _, err := fs.Stat(dist, name); err != nil {
			t.Errorf("index.html loads %q, which dist does not hold: %v", ref, err)
		}
		assets++
	}
	if assets == 0 {
		t.Errorf("index.html loads nothing from assets/: is dist a real build?")
	}
	if s := inlineScript.FindString(page); s != "" {
		t.Errorf("index.html has an inline script, which the CSP refuses: %.80s", s)
	}
	if s := inlineAttr.FindString(page); s != "" {
		t.Errorf("index.html has an inline style or event handler attribute (%q), which the CSP refuses", s)
	}
	if i := strings.Index(strings.ToLower(page), "http://"); i >= 0 {
		t.Errorf("index.html names a URL of another origin: %.60s", page[i:])
	}
	if i := strings.Index(strings.ToLower(page), "https://"); i >= 0 {
		t.Errorf("index.html names a URL of another origin: %.60s", page[i:])
	}
}

// TestDistHoldsOnlyWhatTheServerServes: index.html, SOURCES and flat
// assets/ whose names carry a hash of their content (they are cached for a
// year).
func TestDistHoldsOnlyWhatTheServerServes(t *testing.T) {
	hashed := regexp.MustCompile(`^[a-z0-9-]+-([0-9a-f]{16})\.(js|css|wasm)$`)
	err := fs.WalkDir(Dist(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case path == "." || path == "assets" || path == "index.html" || path == "SOURCES":
		case d.IsDir():
			t.Errorf("dist/%s: a folder; the server serves assets/ flat", path)
		case strings.HasPrefix(path, "assets/"):
			m := hashed.FindStringSubmatch(strings.TrimPrefix(path, "assets/"))
			if m == nil {
				t.Errorf("dist/%s: not NAME-<16 hex>.js|css|wasm", path)
				break
			}
			b, _ := fs.ReadFile(Dist(), path)
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:])[:16] != m[1] {
				t.Errorf("dist/%s: the hash in its name is not its content's", path)
			}
		default:
			t.Errorf("dist/%s: not served (only index.html and assets/)", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
