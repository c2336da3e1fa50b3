package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

func newDownloadCmd(cf *clientFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "download ID [-o PATH]",
		Short: "Download a file's content, verifying its SHA-256",
		Long: `Download the content of an uploaded file and verify that it hashes to the
file's SHA-256.

-o PATH writes it there: to a temporary file first, renamed to PATH only once
verified, so PATH is never left half-written or wrong. -o - writes to
standard output (verified at the end: on a mismatch the exit status is 1 and
what was written must not be trusted). Without -o, it goes to the file's own
name in the current directory, which must not exist yet.`,
		Example: `  perseus file download 0193c1de-… -o report.pdf
  perseus file download 0193c1de-… -o - | less`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if output == "-" {
				w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20)
				if _, err := c.File.DownloadFile(ctx, id, w); err != nil {
					w.Flush()
					return err
				}
				return w.Flush()
			}
			path := output
			if path == "" {
				f, err := c.File.FindFile(ctx, id)
				if err != nil {
					return err
				}
				if f == nil {
					return fmt.Errorf("no file with id %s", id)
				}
				path = filepath.Base(f.Name)
				if path == "." || path == ".." || path == string(filepath.Separator) || path != f.Name {
					return usageError{fmt.Errorf("the file's name %q is not a plain file name: give -o PATH", f.Name)}
				}
				if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("%s already exists: give -o %s to replace it, or another -o PATH", path, path)
				}
			}
			n, err := c.File.DownloadFileTo(ctx, id, path)
			if err != nil {
				return err
			}
			out := newPrinter(cmd, cf.json)
			if cf.json {
				out.json(map[string]any{"id": id, "path": path, "size": n})
			} else {
				out.linef("downloaded %s to %s (%s, SHA-256 verified)", id, path, humanize.IBytes(uint64(n)))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to `PATH` (- for standard output; default: the file's name, in the current directory)")
	return cmd
}
