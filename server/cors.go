package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/cors"
)

// corsMethods are the methods a web page may use across origins: the API's,
// and PATCH for tus.
var corsMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// corsHeaders are the request headers a web page may send: the API's, the
// conditional and range headers of downloads, and those of tus clients.
var corsHeaders = []string{
	"Authorization", "Content-Type", "X-Request-Id", "X-HTTP-Method-Override",
	"If-Match", "If-None-Match", "If-Unmodified-Since", "Range",
	"Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata", "Upload-Checksum",
	"Upload-Concat", "Upload-Defer-Length",
	"Perseus-Hash-First",    // a tus creation that sends while it hashes (the web console)
	"Perseus-File-Checksum", // a tus request ending an upload, with the whole file's CRC
	"Last-Event-ID",         // GET /api/v0/events read by fetch (the web console) resumes with it
}

// corsExposed are the answer's headers a web page may read, beyond those
// every page may (Content-Type, Content-Length, Last-Modified…).
var corsExposed = []string{
	"Location", "ETag", "Repr-Digest", "X-Request-Id", "Retry-After",
	"Content-Range", "Content-Disposition", "Accept-Ranges",
	"Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Defer-Length", "Upload-Concat", "Upload-Expires",
	"Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm",
	"Perseus-File-Id", "Perseus-File-Status", "Perseus-File-Checksum",
}

// corsMaxAge is how long, in seconds, a browser may reuse a preflight's answer.
const corsMaxAge = 600

// newCORS returns the CORS middleware for origins, or nil for none. It is
// github.com/rs/cors: preflights (OPTIONS with Access-Control-Request-Method)
// are answered 204 by it and go no further; a request from an origin not
// listed gets no CORS header at all. Credentials (cookies) are never allowed:
// the API authenticates with the Authorization header, which needs none.
func newCORS(origins []string) *cors.Cors {
	if len(origins) == 0 {
		return nil
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: corsMethods,
		AllowedHeaders: corsHeaders,
		ExposedHeaders: corsExposed,
		MaxAge:         corsMaxAge,
	})
}

// CheckOrigin says whether origin can be one of Config.CORSOrigins: "*", or
// http or https, a host and perhaps a port, nothing else (no path, not even
// "/"); the host may begin with "*." to take all its subdomains.
func CheckOrigin(origin string) error {
	if origin == "*" {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("origin %q: %s; write it as the browser sends it, e.g. https://app.example.com or http://localhost:3000", origin, why)
	}
	u, err := url.Parse(origin)
	switch {
	case err != nil || u.Opaque != "":
		return bad("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("the scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return bad("there is no host")
	case u.User != nil:
		return bad("an origin has no user")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(origin, "?#"):
		return bad("an origin has no path, query or fragment")
	}
	host := strings.TrimPrefix(u.Hostname(), "*.")
	if host == "" || strings.Contains(host, "*") || strings.ContainsAny(host, " \t") {
		return bad(`"*" may stand alone or begin the host as "*."`)
	}
	return nil
}
