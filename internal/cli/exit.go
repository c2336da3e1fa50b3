package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/perseus-go/perseus"
)

// The exit statuses of perseus, as the root command's help lists them.
const (
	exitOK          = 0
	exitFailure     = 1   // the command failed: an API error, a failed file, a checksum mismatch
	exitUsage       = 2   // how the command was called: a flag, an argument, a missing key
	exitTimeout     = 3   // a wait (file wait) gave up before the file was final
	exitInterrupted = 130 // Ctrl-C (SIGINT): 128 + 2
	exitTerminated  = 143 // SIGTERM: 128 + 15
)

const exitCodesHelp = `Exit status:
  0    success
  1    failure: an API error, a file that failed, a checksum mismatch
  2    usage error: a bad flag or argument, a missing --tenant, no API key
  3    a wait (file wait --timeout) gave up before the file was final
  130  interrupted (Ctrl-C, SIGINT); 143 on SIGTERM`

// signalled is the cause of the context of a command stopped by a signal.
type signalled struct{ sig os.Signal }

func (s signalled) Error() string { return "interrupted (" + s.sig.String() + ")" }

// signalContext is cancelled, with a signalled cause, on SIGINT or SIGTERM.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(signalled{s})
			signal.Stop(sigs) // a second Ctrl-C stops the process at once, as usual
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// exitCode is the exit status for err, the error of a command run under ctx.
func exitCode(ctx context.Context, err error) int {
	var ue usageError
	var sig signalled
	switch {
	case err == nil:
		return exitOK
	case errors.As(context.Cause(ctx), &sig):
		if sig.sig == syscall.SIGTERM {
			return exitTerminated
		}
		return exitInterrupted
	case errors.As(err, &ue) || cobraUsage(err):
		return exitUsage
	case errors.Is(err, perseus.ErrTimeout):
		return exitTimeout
	}
	return exitFailure
}

// cobraUsage recognises the usage errors cobra makes itself, which no
// hook of ours sees.
func cobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "required flag(s)", "if any flags in the group", "unknown flag", "unknown shorthand flag"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// dropPrefixes keeps "perseus: " out of a message where errors wrapped in
// one another each brought their own, so that the caller adds just one.
func dropPrefixes(s string) string {
	for strings.HasPrefix(s, "perseus: ") {
		s = strings.TrimPrefix(s, "perseus: ")
	}
	for _, sep := range []string{": ", "(", "; "} {
		for strings.Contains(s, sep+"perseus: ") {
			s = strings.ReplaceAll(s, sep+"perseus: ", sep)
		}
	}
	return s
}

// routeMissing reports whether err is a 404 for want of an endpoint (not
// of a file): the server's not_found, or an answer that is not the API's.
func routeMissing(err error) bool {
	var ae *perseus.APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && (ae.Code == "" || ae.Code == "not_found")
}

// explain turns an endpoint the server lacks into what it most likely
// means when even POST /api/v0/file/find, which every Perseus server
// offers, is missing: the host or its base path is wrong.
func (c *clientFlags) explain(ctx context.Context, err error) error {
	if c.cl == nil || !routeMissing(err) {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, perr := c.cl.File.FindFiles(pctx, perseus.FindQuery{IDs: []string{"perseus-cli-probe"}})
	if !routeMissing(perr) {
		return err
	}
	var ae *perseus.APIError
	errors.As(err, &ae)
	return fmt.Errorf("the API host or its base path looks wrong (PERSEUS_API_HOST or --host: %s): "+
		"it answers 404 even to POST /api/v0/file/find, which every Perseus server offers\n  (%w)", c.hostShown(), ae)
}

// hostShown is the API base URL the client commands go to.
func (c *clientFlags) hostShown() string {
	if c.host != "" {
		return c.host
	}
	if h := os.Getenv("PERSEUS_API_HOST"); h != "" {
		return h
	}
	return perseus.DefaultHost
}
