package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/load"
	"github.com/perseus-go/perseus/server"
	"github.com/perseus-go/perseus/store/blob/local"
	"github.com/perseus-go/perseus/store/meta/sqlite"
	"github.com/spf13/cobra"
)

func newLoadCmd() *cobra.Command {
	var cfg load.Config
	var host, apiKey string
	var accessLog bool
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Drive concurrent clients against a server and report throughput and latency",
		Long: `Run N concurrent clients, each uploading a new random file and finding it
again, for a fixed time; then check that every uploaded file is still found
uploaded. Prints throughput, p50/p99 latency, the error count and lost files;
exits 1 if there were errors or lost files.

Without --host it starts an embedded server (SQLite and a local directory in a
temporary directory) in this process and drives that; its logs (an access
log line per request among them) are dropped, so that the summary is what
you see, unless --access-log sends them to stderr.`,
		Example: `  perseus load --clients 64 --duration 30s
  perseus load --host http://127.0.0.1:8080 --api-key $KEY --clients 16`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tmp, err := os.MkdirTemp("", "perseus-load-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			cfg.TempDir = tmp
			if host == "" {
				logs := io.Discard
				if accessLog {
					logs = cmd.ErrOrStderr()
				}
				stop, url, key, err := embedded(cmd.Context(), tmp, slog.New(slog.NewTextHandler(logs, nil)))
				if err != nil {
					return err
				}
				defer stop()
				host, apiKey = url, key
				fmt.Fprintf(cmd.ErrOrStderr(), "perseus: load against an embedded server at %s\n", url)
			}
			transport := http.DefaultTransport.(*http.Transport).Clone()
			transport.MaxIdleConnsPerHost = cfg.Clients
			c, err := perseus.NewClient(perseus.WithHost(host), perseus.WithAPIKey(apiKey),
				perseus.WithHTTPClient(&http.Client{Transport: transport}))
			if err != nil {
				return usageError{err}
			}
			cfg.Client = c
			res, err := load.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			res.Print(cmd.OutOrStdout(), cfg.Clients)
			if res.Lost > 0 || sum(res.Errors) > 0 {
				return errSilent
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&host, "host", "", "server base `URL` (default: an embedded server in this process)")
	f.StringVar(&apiKey, "api-key", os.Getenv("LETTRIA_API_KEY"), "API `KEY` [LETTRIA_API_KEY]")
	f.IntVar(&cfg.Clients, "clients", 64, "concurrent clients")
	f.BoolVar(&accessLog, "access-log", false, "print the embedded server's logs (a line per request) on stderr")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to run")
	sizeVar(f, &cfg.MinSize, "min-size", 4<<10, "smallest file: `SIZE` in bytes, or with a unit such as 4KiB")
	sizeVar(f, &cfg.MaxSize, "max-size", 64<<10, "largest file: `SIZE` in bytes, or with a unit such as 64KiB")
	return cmd
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// embedded starts a server on the embedded default in dir, on a loopback port.
func embedded(ctx context.Context, dir string, logger *slog.Logger) (stop func(), url, key string, err error) {
	ms, err := sqlite.Open(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		return nil, "", "", err
	}
	bs, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, "", "", err
	}
	key = randomHex(16)
	srv, err := server.New(server.Config{Meta: ms, Blobs: bs, SigningKey: []byte(randomHex(32)),
		StaticKeys: map[string]string{key: "default"}, Logger: logger})
	if err != nil {
		return nil, "", "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", "", err
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		ms.Close()
	}
	return stop, "http://" + ln.Addr().String(), key, nil
}
