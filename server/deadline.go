package server

import (
	"io"
	"net/http"
	"time"
)

// bodyIdleTimeout is how long a request body may go without a single byte
// arriving before the connection is dropped. It is an idle limit, not a total
// one: an upload that keeps moving may take as long as it needs.
var bodyIdleTimeout = time.Minute

// idleBodies keeps slow or silent clients from holding connections: every
// request's body must keep arriving, each read pushing the deadline on.
func idleBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(bodyIdleTimeout)) == nil && r.Body != nil && r.Body != http.NoBody {
			r.Body = &idleBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(w, r)
	})
}

type idleBody struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.rc.SetReadDeadline(time.Now().Add(bodyIdleTimeout))
	}
	return n, err
}
