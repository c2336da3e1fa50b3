package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"time"

	"github.com/perseus-go/perseus/web"
)

// The web console (package web, its built files embedded): GET / is its
// page and GET /assets/{name} its scripts and styles. The API's key is
// never part of these requests: the page asks for it and sends it to the
// API itself.

// consoleCSP is the console's Content-Security-Policy: nothing but its own
// files, no inline script or style, and 'wasm-unsafe-eval' because
// hash-wasm compiles its SHA-256 from WebAssembly bytes it carries.
const consoleCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// consoleTypes are the Content-Types of the console's files, by extension:
// fixed here rather than read from the system's MIME tables.
var consoleTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".wasm": "application/wasm",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
}

// consoleFile is one file of the console, read once.
type consoleFile struct {
	body  []byte
	ctype string
	etag  string
}

// console holds the console's files: the page and its assets.
type console struct {
	index  consoleFile
	assets map[string]consoleFile // by name under assets/
}

// loadConsole reads the console's files from dist (web.Dist's layout).
func loadConsole(dist fs.FS) (*console, error) {
	read := func(name string) (consoleFile, error) {
		b, err := fs.ReadFile(dist, name)
		if err != nil {
			return consoleFile{}, err
		}
		sum := sha256.Sum256(b)
		return consoleFile{body: b, ctype: consoleTypes[path.Ext(name)], etag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
	}
	c := &console{assets: map[string]consoleFile{}}
	var err error
	if c.index, err = read("index.html"); err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(dist, "assets")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() || consoleTypes[path.Ext(e.Name())] == "" {
			continue
		}
		if c.assets[e.Name()], err = read("assets/" + e.Name()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// consoleRoutes registers the console's routes on m, unless it is off.
func (s *Server) consoleRoutes(m *router) error {
	if s.cfg.NoConsole {
		return nil
	}
	c, err := loadConsole(web.Dist())
	if err != nil {
		return err
	}
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		consoleHeaders(w)
		w.Header().Set("Cache-Control", "no-cache")
		c.index.serve(w, r)
	})
	m.HandleFunc("GET /assets/{name}", func(w http.ResponseWriter, r *http.Request) {
		consoleHeaders(w)
		f, ok := c.assets[r.PathValue("name")]
		if !ok {
			writeError(w, ErrRouteNotFound)
			return
		}
		// Their names carry a hash of their content: a new build is new names.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		f.serve(w, r)
	})
	return nil
}

// consoleHeaders sets the headers of every answer of the console.
func consoleHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// serve answers f by http.ServeContent: whole, or 304 to a request that
// has it already (If-None-Match against its ETag); HEAD gets the headers
// alone.
func (f consoleFile) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("ETag", f.etag)
	h.Set("Content-Type", f.ctype)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
