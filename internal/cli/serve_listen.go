package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/perseus-go/perseus/server"
)

// errForcedClose is the cause given to the context of every request still
// in progress when the shutdown timeout forces its connection closed, so
// that it is not logged as a client that went away.
var errForcedClose = errors.New("perseus serve: shutdown timeout reached, connection closed")

// serve answers srv's API on ln (HTTPS with the TLS certificate, if any),
// and the metrics and pprof on their own listeners, until ctx ends; then it
// stops within the shutdown timeout (stop). attrs go on the line that says
// it is serving.
func (o *serveOps) serve(ctx context.Context, ln net.Listener, srv *server.Server, attrs ...any) error {
	defer o.close()
	errorLog := slog.NewLogLogger(o.logger.Handler(), slog.LevelWarn)
	base, forceClose := context.WithCancelCause(context.Background())
	defer forceClose(nil)
	var active atomic.Int64 // requests being served, until their handler returns
	api := srv.Handler()
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			active.Add(1)
			defer active.Add(-1)
			api.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: errorLog,
		BaseContext: func(net.Listener) context.Context { return base },
	}
	hs.RegisterOnShutdown(srv.Drain)

	var private []*http.Server
	for _, p := range []struct {
		ln      net.Listener
		metrics bool
	}{{o.metrics, true}, {o.pprof, false}} {
		if p.ln == nil {
			continue
		}
		mux := http.NewServeMux()
		if p.metrics {
			mux.Handle("GET /metrics", srv.MetricsHandler())
		}
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		// Not /debug/pprof/cmdline: the command line may hold secrets (--db's
		// password, --signing-key).
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		ps := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, ErrorLog: errorLog}
		private = append(private, ps)
		go func() {
			if err := ps.Serve(p.ln); !errors.Is(err, http.ErrServerClosed) {
				o.logger.Error("private listener failed", "addr", p.ln.Addr().String(), "err", err)
			}
		}()
	}
	defer func() {
		for _, ps := range private {
			ps.Close()
		}
	}()

	runDone := make(chan struct{})
	go func() { srv.Run(ctx); close(runDone) }() // background work ends with ctx

	scheme, serveAPI := "http", func() error { return hs.Serve(ln) }
	if o.cert != nil {
		hs.TLSConfig = o.cert.tlsConfig()
		scheme, serveAPI = "https", func() error { return hs.ServeTLS(ln, "", "") }
		defer o.cert.reloadOnSIGHUP(o.logger)()
		attrs = append(attrs, o.cert.attrs()...)
	} else {
		defer ignoreSIGHUP(o.logger)() // systemctl reload must not stop a server without TLS
	}
	if o.metrics != nil {
		attrs = append(attrs, "metrics", "http://"+o.metrics.Addr().String()+"/metrics")
	}
	if o.pprof != nil {
		attrs = append(attrs, "pprof", "http://"+o.pprof.Addr().String()+"/debug/pprof/")
	}
	errc := make(chan error, 1)
	go func() { errc <- serveAPI() }()
	o.logger.Info("serving", append([]any{"url", scheme + "://" + ln.Addr().String()}, attrs...)...)
	select {
	case err := <-errc:
		forceClose(err)
		hs.Close()
		return err
	case <-ctx.Done():
	}
	o.stop(hs, &active, forceClose, runDone)
	return nil
}

// stop shuts hs down within the shutdown timeout: long polls are answered
// at once (srv.Drain, on Shutdown), requests in progress may finish until
// a little before the timeout, then their connections are closed and the
// rest of it is left for their handlers and the background work to end.
func (o *serveOps) stop(hs *http.Server, active *atomic.Int64, forceClose context.CancelCauseFunc, runDone <-chan struct{}) {
	start := time.Now()
	deadline := start.Add(o.shutdownTimeout)
	o.logger.Info("shutting down", "timeout", o.shutdownTimeout.String(), "requests", active.Load())
	grace := min(o.shutdownTimeout/4, 3*time.Second)
	sctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-grace))
	defer cancel()
	var cut int64
	if err := hs.Shutdown(sctx); err != nil {
		cut = active.Load()
		o.logger.Warn("shutdown timeout: closing the connections of requests still in progress", "requests", cut)
		forceClose(errForcedClose)
		hs.Close()
	}
	for active.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-runDone:
	case <-time.After(time.Until(deadline)):
		o.logger.Warn("background work still running at the shutdown timeout")
	}
	o.logger.Info("stopped", "after", time.Since(start).Round(time.Millisecond).String(), "requests_cut", cut,
		"requests_unfinished", active.Load())
}
