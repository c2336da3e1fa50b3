package cli

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/perseus-go/perseus/internal/backend"
	"github.com/perseus-go/perseus/server"
	"github.com/spf13/pflag"
)

// opsFlags are serve's flags for running in production: TLS, CORS, the log
// level, a private metrics listener and the shutdown timeout.
type opsFlags struct {
	tlsCert, tlsKey string
	corsOrigins     []string
	logLevel        string
	metricsAddr     string
	shutdownTimeout time.Duration
}

// register adds the flags to fl and their variables to env.
func (o *opsFlags) register(fl *pflag.FlagSet, env envFlags) {
	for flag, v := range map[string]string{"tls-cert": "PERSEUS_TLS_CERT", "tls-key": "PERSEUS_TLS_KEY",
		"cors-origin": "PERSEUS_CORS_ORIGINS", "log-level": "PERSEUS_LOG_LEVEL",
		"metrics-addr": "PERSEUS_METRICS_ADDR", "shutdown-timeout": "PERSEUS_SHUTDOWN_TIMEOUT"} {
		env[flag] = v
	}
	fl.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS and HTTP/2 with the certificate chain in this PEM `FILE`, read again on SIGHUP; with --tls-key [PERSEUS_TLS_CERT]")
	fl.StringVar(&o.tlsKey, "tls-key", "", "the private key of --tls-cert, a PEM `FILE`, read again on SIGHUP [PERSEUS_TLS_KEY]")
	fl.StringArrayVar(&o.corsOrigins, "cors-origin", nil, "let web pages from this `ORIGIN` (e.g. https://app.example.com) call the API; repeatable; * lets any site's pages call it: do not use * where browsers send credentials [PERSEUS_CORS_ORIGINS, comma-separated]")
	fl.StringVar(&o.logLevel, "log-level", "info", "least `LEVEL` logged: debug (probes and scrapes too), info, warn or error [PERSEUS_LOG_LEVEL]")
	fl.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics and /debug/pprof/ on this `HOST:PORT`, plain HTTP, and no longer /metrics on --addr (when empty, /metrics is answered on --addr) [PERSEUS_METRICS_ADDR]")
	fl.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT or SIGTERM, the longest the server takes to stop: long polls are answered at once, requests in progress may finish until shortly before it, then their connections are closed [PERSEUS_SHUTDOWN_TIMEOUT]")
}

// serveOps is what the flags make ready before any store is opened: the
// logger, the TLS certificate and the listeners of the private endpoints.
type serveOps struct {
	opsFlags
	logger  *slog.Logger
	cert    *certReloader // nil: plain HTTP
	metrics net.Listener  // --metrics-addr, or nil
	pprof   net.Listener  // --pprof, or nil
}

// prepareOps checks the flags of logging, TLS, CORS, metrics and shutdown,
// each refused in one line naming it, loads the TLS certificate and binds
// the private listeners. Call close on the result if serve is never called.
func (f serveFlags) prepareOps(stderr io.Writer) (*serveOps, error) {
	bad := func(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }
	o := &serveOps{opsFlags: f.ops}
	var err error
	if o.logger, err = newLogger(stderr, f.logFormat, o.logLevel); err != nil {
		return nil, err
	}
	if o.shutdownTimeout <= 0 {
		return nil, bad("--shutdown-timeout %v: must be more than 0", o.shutdownTimeout)
	}
	for _, origin := range o.corsOrigins {
		if err := server.CheckOrigin(origin); err != nil {
			return nil, bad("--cors-origin: %v", err)
		}
	}
	switch {
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return nil, bad("--tls-cert and --tls-key go together: give both (a PEM certificate chain and its private key) or neither")
	case o.tlsCert != "":
		if o.cert, err = loadCert(o.tlsCert, o.tlsKey); err != nil {
			return nil, bad("--tls-cert %s, --tls-key %s: %s", o.tlsCert, o.tlsKey, backend.OneLine(err))
		}
	}
	for _, l := range []struct {
		flag, addr string
		ln         *net.Listener
	}{{"--metrics-addr", o.metricsAddr, &o.metrics}, {"--pprof", f.pprofAddr, &o.pprof}} {
		if l.addr == "" || (l.flag == "--pprof" && l.addr == o.metricsAddr) { // --metrics-addr serves pprof too
			continue
		}
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			o.close()
			return nil, bad("%s %q: give HOST:PORT, e.g. 127.0.0.1:9090", l.flag, l.addr)
		}
		if *l.ln, err = net.Listen("tcp", l.addr); err != nil {
			o.close()
			return nil, fmt.Errorf("%s %s: %w", l.flag, l.addr, err)
		}
	}
	return o, nil
}

// close closes the private listeners; serve does when it returns.
func (o *serveOps) close() {
	for _, ln := range []net.Listener{o.metrics, o.pprof} {
		if ln != nil {
			ln.Close()
		}
	}
}

// newLogger returns the logger of format (text or json) writing to w the
// records of level and above.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "info":
		lv = slog.LevelInfo
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: use text or json", format)}
}

// sizeValue is a flag of bytes, with a unit or without: 5GiB, 500MB, 1048576.
type sizeValue[T ~int | ~int64] struct{ p *T }

// sizeVar defines a size flag whose value, default def, is kept in p.
func sizeVar[T ~int | ~int64](fl *pflag.FlagSet, p *T, name string, def T, usage string) {
	*p = def
	fl.Var(sizeValue[T]{p}, name, usage)
}

func (s sizeValue[T]) Set(v string) error {
	n, err := humanize.ParseBytes(v)
	if err != nil || n > uint64(math.MaxInt64) || uint64(T(n)) != n {
		return fmt.Errorf("%q is no size: give bytes, or a number with a unit such as 500MB or 5GiB", v)
	}
	*s.p = T(n)
	return nil
}

func (s sizeValue[T]) String() string {
	if s.p == nil {
		return "0"
	}
	return strings.ReplaceAll(humanize.IBytes(uint64(*s.p)), " ", "")
}

func (s sizeValue[T]) Type() string { return "size" }
