package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// StatusClientClosed is the status a request is counted and logged with
// when its client went away before it had its answer (nginx's 499): the
// answer the handler wrote, if any, never reached anyone.
const StatusClientClosed = 499

// quietRoutes are logged at debug level: probes and scrapes would drown the rest.
var quietRoutes = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true}

// observe wraps the whole API: every request gets a request id (the
// client's X-Request-Id when it sends a sane one), echoed in the answer and
// attached to every log line written with the request's context; and every
// request is counted, timed and logged once when it ends.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		in := &countingBody{ReadCloser: r.Body}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = in
		}
		cw := &countingWriter{ResponseWriter: w}
		s.obs.InFlight.Inc()
		defer s.obs.InFlight.Dec()
		next.ServeHTTP(cw, r)

		elapsed := time.Since(start)
		route := r.Pattern // set by the ServeMux on the request it served
		switch {
		case route != "":
		case r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "":
			route = "preflight" // answered by the CORS middleware, before any route
		default:
			route = "unmatched"
		}
		code := cw.status()
		var gone []slog.Attr
		if clientGone(r, in, cw) {
			gone = []slog.Attr{slog.Bool("client_gone", true), slog.Int("answered", code)}
			code = StatusClientClosed
		}
		codeStr := strconv.Itoa(code)
		s.obs.Requests.WithLabelValues(route, codeStr).Inc()
		s.obs.Duration.WithLabelValues(route).Observe(elapsed.Seconds())
		s.obs.BytesIn.WithLabelValues(route).Add(float64(in.n))
		s.obs.BytesOut.WithLabelValues(route).Add(float64(cw.n))
		if strings.HasPrefix(route, "PUT ") {
			s.obs.Uploads.WithLabelValues(route, codeStr).Observe(elapsed.Seconds())
		}
		level := slog.LevelInfo
		switch {
		case code >= 500:
			level = slog.LevelError
		case quietRoutes[route]:
			level = slog.LevelDebug
		}
		// The path only: an upload URL's query is a credential.
		s.cfg.Logger.LogAttrs(r.Context(), level, "request", append([]slog.Attr{
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
			slog.Int("status", code), slog.Int64("bytes_in", in.n), slog.Int64("bytes_out", cw.n),
			slog.Duration("duration", elapsed), slog.String("remote", r.RemoteAddr),
			slog.String("user_agent", r.UserAgent())}, gone...)...)
	})
}

// clientGone says whether r's client went away before it had its answer:
// its connection closed (or, on HTTP/2, its stream was reset) while r was
// served, and the answer was an error, was never written or could not be
// written. The server itself ending r (a context cancelled with another
// cause, as at a forced shutdown) or a body that stopped arriving (a read
// deadline) is no client going away. A whole answer written before the
// client closed is not one either: it had it.
func clientGone(r *http.Request, in *countingBody, cw *countingWriter) bool {
	ctx := r.Context()
	if ctx.Err() == nil || context.Cause(ctx) != context.Canceled {
		return false
	}
	if in.err != nil && errors.Is(in.err, os.ErrDeadlineExceeded) {
		return false
	}
	return cw.code == 0 || cw.code >= 400 || cw.err != nil
}

// saneRequestID accepts a client's request id of 1 to 128 visible ASCII
// characters, so that it cannot forge log lines or bloat them.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

type requestIDKey struct{}

// RequestID returns the id the server gave the request whose context this is, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDLogs adds request_id to every record logged with a request's context.
type requestIDLogs struct{ slog.Handler }

func (h requestIDLogs) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDLogs) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDLogs{h.Handler.WithAttrs(as)}
}

func (h requestIDLogs) WithGroup(name string) slog.Handler {
	return requestIDLogs{h.Handler.WithGroup(name)}
}

// countingBody counts the request body bytes the handler read, and keeps
// the first error other than the body's end.
type countingBody struct {
	io.ReadCloser
	n   int64
	err error
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// countingWriter records the status, counts the body bytes written and
// keeps the first error writing them.
type countingWriter struct {
	http.ResponseWriter
	code int
	n    int64
	err  error
}

func (c *countingWriter) WriteHeader(code int) {
	if c.code == 0 && code >= 200 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// Flush sends buffered data to the client, when the underlying writer can.
func (c *countingWriter) Flush() {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	http.NewResponseController(c.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *countingWriter) status() int {
	if c.code == 0 {
		return http.StatusOK
	}
	return c.code
}
