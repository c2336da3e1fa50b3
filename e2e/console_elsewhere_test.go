package e2e

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// distDir is the console's build, which perseus serve embeds.
const distDir = "../web/dist"

// perseusAPIMeta matches the index's <meta name="perseus-api" …>, if it has one.
var perseusAPIMeta = regexp.MustCompile(`<meta\s+name="perseus-api"[^>]*>`)

// serveDistElsewhere serves web/dist from an httptest server, another
// origin than any perseus serve, its index.html naming api() as the API in
// <meta name="perseus-api">, and returns its URL.
func serveDistElsewhere(t *testing.T, api func() string) string {
	t.Helper()
	index, err := os.ReadFile(filepath.Join(distDir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	files := http.FileServer(http.Dir(distDir))
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/index.html" {
			files.ServeHTTP(w, r)
			return
		}
		meta := fmt.Sprintf(`<meta name="perseus-api" content="%s">`, html.EscapeString(api()))
		page := string(index)
		if perseusAPIMeta.MatchString(page) {
			page = perseusAPIMeta.ReplaceAllLiteralString(page, meta)
		} else {
			page = strings.Replace(page, "<head>", "<head>"+meta, 1)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}))
	t.Cleanup(site.Close)
	return site.URL
}
