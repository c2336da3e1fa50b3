package server

import "net/http"

// router is the server's http.ServeMux that remembers every pattern
// registered on it, so that tests can hold the OpenAPI document to the
// routes that really exist.
type router struct {
	*http.ServeMux
	patterns []string
}

func newRouter() *router { return &router{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern, as http.ServeMux.Handle does.
func (m *router) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers h for pattern, as http.ServeMux.HandleFunc does.
func (m *router) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// Routes returns every pattern registered on the server's mux, in order.
func (s *Server) Routes() []string { return append([]string(nil), s.mux.patterns...) }
