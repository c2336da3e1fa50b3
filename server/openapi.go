package server

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3 document of the whole API: the v0 contract and
// every extension. Tests check the server's real answers against it.
//
//go:embed openapi.json
var OpenAPI []byte

// handleOpenAPI serves the document; it needs no API key.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(OpenAPI)
}
