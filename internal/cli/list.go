package cli

import (
	"fmt"

	"github.com/perseus-go/perseus"
	"github.com/spf13/cobra"
)

func newListCmd(cf *clientFlags) *cobra.Command {
	var status, prefix string
	var limit int
	cmd := &cobra.Command{
		Use:     "ls [--status S] [--prefix P] [--limit N]",
		Aliases: []string{"list"},
		Short:   "List your files, newest first",
		Long: `List your files, newest first, fetching pages as it goes.

--status keeps only files in one status (pending, uploaded or failed);
--prefix keeps only files whose name starts with it (case-sensitive);
--limit stops after that many files (0: all of them).`,
		Example: `  perseus file ls
  perseus file ls --status failed --json
  perseus file ls --prefix reports/2026- --limit 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st := perseus.Status(status)
			switch st {
			case "", perseus.StatusPending, perseus.StatusUploaded, perseus.StatusFailed:
			default:
				return usageError{fmt.Errorf("--status %q: use pending, uploaded or failed", status)}
			}
			if limit < 0 {
				return usageError{fmt.Errorf("--limit %d: must be 0 (no limit) or more", limit)}
			}
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			opts := perseus.ListOptions{Status: st, NamePrefix: prefix}
			if limit > 0 {
				opts.PageSize = min(limit, 1000)
			}
			out := newPrinter(cmd, cf.json)
			n := 0
			for f, err := range c.File.ListFiles(cmd.Context(), opts) {
				if err != nil {
					return err
				}
				out.file(f)
				if n++; n == limit {
					break
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only files in this `STATUS`: pending, uploaded or failed")
	cmd.Flags().StringVar(&prefix, "prefix", "", "only files whose name starts with `PREFIX`")
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after `N` files (0: all)")
	cmd.RegisterFlagCompletionFunc("status", completeStatus)
	return cmd
}
