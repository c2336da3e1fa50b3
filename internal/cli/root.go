// Package cli is the perseus command line: serve, file, keys, webhooks and version.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// usageError marks errors in how the command was called: exit status 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// errSilent is returned when the command already told the user what went wrong.
var errSilent = errors.New("")

// Main runs the command line with args and returns the exit status (see
// exitCodesHelp): 0 success, 1 failure, 2 usage error, 3 a wait that timed
// out, 130 interrupted by Ctrl-C.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := exitCode(ctx, err)
	switch {
	case code == exitOK:
	case code == exitUsage:
		fmt.Fprintf(stderr, "perseus: %s\nRun '%s --help' for usage.\n", dropPrefixes(err.Error()), commandPath(root, args))
	case code == exitInterrupted || code == exitTerminated:
		if !errors.Is(err, errSilent) {
			fmt.Fprintf(stderr, "perseus: %v\n", context.Cause(ctx))
		}
	case !errors.Is(err, errSilent):
		fmt.Fprintf(stderr, "perseus: %s\n", dropPrefixes(err.Error()))
	}
	return code
}

func commandPath(root *cobra.Command, args []string) string {
	if c, _, err := root.Find(args); err == nil {
		return c.CommandPath()
	}
	return root.Name()
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "perseus",
		Short: "Perseus file service: the server and its client",
		Long: `perseus hands documents to the Perseus platform.

It is both the server (perseus serve), which speaks the Perseus v0 file API on
an embedded default (SQLite and a local directory) or on PostgreSQL and S3,
and its client (perseus file …), which reads PERSEUS_API_HOST and
LETTRIA_API_KEY like the Python SDK.

` + exitCodesHelp,
		Example: `  perseus serve --data ./perseus-data
  export LETTRIA_API_KEY=$(cat ./perseus-data/dev-api-key)
  perseus file upload report.pdf --wait`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(), newFileCmd(), newKeysCmd(), newWebhooksCmd(), newLoadCmd(), newVersionCmd())
	markUsage(root)
	return root
}

// markUsage makes argument-count errors usage errors, recursively.
func markUsage(c *cobra.Command) {
	if c.Args != nil {
		args := c.Args
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	if c.RunE == nil && c.HasSubCommands() {
		c.RunE = func(cmd *cobra.Command, a []string) error {
			if len(a) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", a[0], cmd.CommandPath())}
			}
			return cmd.Help()
		}
		c.Args = cobra.ArbitraryArgs
	}
	for _, sub := range c.Commands() {
		markUsage(sub)
	}
}

// envFlags gives flags their environment equivalents: a flag not set on the
// command line takes the value of its variable, when that is set.
type envFlags map[string]string // flag name → variable

func (e envFlags) apply(fs *pflag.FlagSet) error {
	for name, env := range e {
		f := fs.Lookup(name)
		v, ok := os.LookupEnv(env)
		if f == nil || f.Changed || !ok {
			continue
		}
		if sv, isSlice := f.Value.(pflag.SliceValue); isSlice {
			if err := sv.Replace(splitList(v)); err != nil {
				return usageError{fmt.Errorf("$%s: %w", env, err)}
			}
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return usageError{fmt.Errorf("$%s=%q: %w", env, v, err)}
		}
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
