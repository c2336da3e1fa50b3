package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/spf13/cobra"
)

// clientFlags are shared by every client command.
type clientFlags struct {
	host, apiKey string
	json         bool
	retryFor     time.Duration

	cl *perseus.Client // the client, once a command has made it
}

var clientEnv = envFlags{"host": "PERSEUS_API_HOST", "api-key": "LETTRIA_API_KEY", "retry-for": "PERSEUS_RETRY_FOR"}

func (c *clientFlags) client(cmd *cobra.Command) (*perseus.Client, error) {
	if err := clientEnv.apply(cmd.Flags()); err != nil {
		return nil, err
	}
	policy, err := retryPolicy(c.retryFor)
	if err != nil {
		return nil, err
	}
	opts := []perseus.Option{perseus.WithRetry(policy)}
	if c.host != "" {
		opts = append(opts, perseus.WithHost(c.host))
	}
	if c.apiKey == "" {
		return nil, usageError{errors.New("no API key: LETTRIA_API_KEY (or --api-key) is empty")}
	}
	opts = append(opts, perseus.WithAPIKey(c.apiKey))
	cl, err := perseus.NewClient(opts...)
	if err != nil {
		return nil, usageError{err}
	}
	c.cl = cl
	return cl, nil
}

// retryPolicy is the SDK's default policy retrying each request for d
// after it first failed; none for 0.
func retryPolicy(d time.Duration) (perseus.RetryPolicy, error) {
	switch {
	case d < 0:
		return perseus.RetryPolicy{}, usageError{fmt.Errorf("--retry-for %v: must not be negative (0 disables retries)", d)}
	case d == 0:
		return perseus.RetryPolicy{}, nil
	}
	p := perseus.DefaultRetry
	p.MaxAttempts, p.MaxElapsed = 0, d
	return p, nil
}

func newFileCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "file",
		Short: "Upload, list, find, download, wait for and delete files; follow their events",
		Long: `Client commands of the Perseus file API.

They read PERSEUS_API_HOST (default ` + perseus.DefaultHost + `) and LETTRIA_API_KEY,
like the Python SDK; --host and --api-key override them. Output is for people
by default; --json prints one JSON object per file per line.

A request that fails for a reason a retry can fix (the server or one of its
stores unreachable or answering 503, a dropped connection) is sent again,
with growing pauses, for up to --retry-for after it first failed: by default
an upload rides out an outage of up to a minute and finishes.`,
		Example: `  perseus file upload report.pdf notes/ --wait
  perseus file find --hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  perseus file delete 0193c1de-…`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&cf.host, "host", "", "API base `URL` [PERSEUS_API_HOST]")
	pf.StringVar(&cf.apiKey, "api-key", "", "API `KEY` [LETTRIA_API_KEY]")
	pf.BoolVar(&cf.json, "json", false, "print one JSON object per file per line")
	pf.DurationVar(&cf.retryFor, "retry-for", perseus.DefaultRetry.MaxElapsed, "retry a request that failed for a reason a retry can fix (an outage, a dropped connection) for this long; 0 disables retries [PERSEUS_RETRY_FOR]")
	cmd.AddCommand(newUploadCmd(&cf), newCreateCmd(&cf), newFindCmd(&cf), newGetCmd(&cf), newDeleteCmd(&cf), newWaitCmd(&cf),
		newListCmd(&cf), newDownloadCmd(&cf), newEventsCmd(&cf))
	for _, sub := range cmd.Commands() {
		run := sub.RunE
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			return cf.explain(cmd.Context(), run(cmd, args))
		}
	}
	return cmd
}

func newUploadCmd(cf *clientFlags) *cobra.Command {
	var f uploadFlags
	cmd := &cobra.Command{
		Use:   "upload PATH... | upload - --name NAME",
		Short: "Upload files and directories (recursively), or standard input",
		Long: `Upload files. Each is hashed (SHA-256); content the server already has is
not sent again and its existing file is printed. With --wait, each file is
waited for until it is uploaded.

Names follow rsync's rule. A file named on the command line keeps its base
name (or --name, for a single file). Directories are walked recursively and
their files named by their path relative to the argument, with /:
"upload reports" names reports/a/x.txt "reports/a/x.txt", while
"upload reports/" (a trailing /) names it "a/x.txt", as do "." and "/".

In directories, dotfiles and dot-directories (.git, .hg and .svn among them)
are skipped unless --hidden, and symbolic links are reported on stderr and
not followed; a symbolic link named on the command line is followed.
--include and --exclude take globs (path.Match: *, ?, [...]) matched against
the name each file would have: a glob without / matches the last segment,
at any depth (--exclude '*.log'); one with / matches the whole name, where
a ** segment matches any number of directories (--include 'reports/**/*.pdf').
With an --include, only files matching one are uploaded; a file matching an
--exclude never is, and a directory matching one is not walked.

A path that cannot be read is reported, the others are still uploaded, and
the exit status is 1. "-" reads standard input to its end and uploads it as
--name (copied to a temporary file first, then hashed like any file).

A new file larger than --part-size goes in one pass, before it is hashed:
in order through the server's tus endpoint, which hashes it as it arrives,
with a CRC of the whole file computed here and checked there, where the
server prefers it (the embedded default); or, with --parts, on S3 and on
servers without that, in parts, several at once, hashed here as they
leave. Where you already have an uploaded file of the same size,
the server has the file hashed first, so that content it has sends nothing
(--hash-first does so always), then sends it in parts. An upload that
was interrupted (Ctrl-C, a dropped network) resumes when run again: only
what the server does not hold is sent (what a one-pass upload needs to find
its upload again is kept under the user's cache directory, in
perseus/uploads, until it completes). When stderr is a terminal, progress
bars show each file in flight and the total.`,
		Example: `  perseus file upload report.pdf --name reports/2026/q1.pdf
  perseus file upload ./docs --concurrency 8 --wait --json
  perseus file upload reports --exclude '*.tmp' && perseus file ls --prefix reports/
  pg_dump mydb | perseus file upload - --name backups/mydb.sql
  perseus file upload backup.tar --part-size 64MiB --parallel-parts 8`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(args); err != nil {
				return err
			}
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			out := newPrinter(cmd, cf.json)
			if args[0] == "-" {
				return uploadStdin(cmd, c, f, out)
			}
			sources, problems := expand(args, f.selection, out.errorf)
			if f.name != "" && len(sources) == 1 {
				sources[0].name = f.name
			}
			if len(sources) == 0 && problems == 0 {
				return usageError{errors.New("no files to upload in the given paths")}
			}
			return uploadAll(cmd, c, sources, problems, f, out)
		},
	}
	f.register(cmd)
	return cmd
}

func newCreateCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "create NAME SHA256",
		Short:   "Create a file record and print its upload URL",
		Example: `  perseus file create report.pdf $(sha256sum report.pdf | cut -d' ' -f1)`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			res, err := c.File.CreateFile(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			out := newPrinter(cmd, cf.json)
			if cf.json {
				out.json(apiCreateResult(res))
				return nil
			}
			out.file(res.File)
			out.linef("upload with: curl -T %s '%s'", args[0], res.UploadURL)
			return nil
		},
	}
}

func newFindCmd(cf *clientFlags) *cobra.Command {
	var ids, hashes []string
	cmd := &cobra.Command{
		Use:     "find [--id ID]... [--hash SHA256]...",
		Short:   "Find files by id and/or content hash",
		Example: `  perseus file find --id 0193c1de-… --hash 9f86d081…0a08`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(ids) == 0 && len(hashes) == 0 {
				return usageError{errors.New("give at least one --id or --hash")}
			}
			for _, h := range hashes {
				if !isSHA256(h) {
					return usageError{fmt.Errorf("--hash %q: give a SHA-256 as 64 hexadecimal digits", h)}
				}
			}
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			files, err := c.File.FindFiles(cmd.Context(), perseus.FindQuery{IDs: ids, SourceHashes: hashes})
			if err != nil {
				return err
			}
			out := newPrinter(cmd, cf.json)
			for _, f := range files {
				out.file(f)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&ids, "id", nil, "file `ID` (repeatable)")
	cmd.Flags().StringArrayVar(&hashes, "hash", nil, "content `SHA256` (repeatable)")
	return cmd
}

func newGetCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "get ID",
		Short:             "Show one file; exit status 1 if there is none",
		Example:           `  perseus file get 0193c1de-…`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cf.completeIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			f, err := c.File.FindFile(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f == nil {
				return fmt.Errorf("no file with id %s", args[0])
			}
			newPrinter(cmd, cf.json).file(f)
			return nil
		},
	}
}

func newDeleteCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "delete ID",
		Short:             "Delete a file",
		Example:           `  perseus file delete 0193c1de-…`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cf.completeIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			if err := c.File.DeleteFile(cmd.Context(), args[0]); err != nil {
				return err
			}
			out := newPrinter(cmd, cf.json)
			if cf.json {
				out.json(map[string]any{"id": args[0], "deleted": true})
			} else {
				out.linef("deleted %s", args[0])
			}
			return nil
		},
	}
}

func newWaitCmd(cf *clientFlags) *cobra.Command {
	var interval, timeout time.Duration
	cmd := &cobra.Command{
		Use:               "wait ID",
		Short:             "Wait until a file is uploaded; exit status 1 if it failed, 3 if --timeout passed first",
		Example:           `  perseus file wait 0193c1de-… --timeout 10m`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cf.completeIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			f, err := c.File.WaitForFileUpload(cmd.Context(), args[0],
				perseus.WithPollingInterval(interval), perseus.WithTimeout(timeout))
			if f != nil {
				newPrinter(cmd, cf.json).file(f)
			}
			return err
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", 500*time.Millisecond, "polling interval against servers without long-poll")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Hour, "give up after this long")
	return cmd
}
