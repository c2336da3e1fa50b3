package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/perseus-go/perseus"
	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version and build information",
		Example: `  perseus version`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "perseus %s\n", perseus.Version)
			if bi, ok := debug.ReadBuildInfo(); ok {
				fmt.Fprintf(out, "go: %s\nmodule: %s %s\n", bi.GoVersion, bi.Main.Path, bi.Main.Version)
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision", "vcs.time", "vcs.modified":
						fmt.Fprintf(out, "%s: %s\n", s.Key, s.Value)
					}
				}
			}
			return nil
		},
	}
}
