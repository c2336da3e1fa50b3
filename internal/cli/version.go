package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/perseus-go/perseus"
	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and build information",
		Long: `Print the version, the Go toolchain and platform, the module version and,
when the binary was built from a git checkout, the commit it was built from
(vcs.revision), its time and whether the tree had local changes.`,
		Example: `  perseus version`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			writeVersion(cmd.OutOrStdout())
			return nil
		},
	}
}

// writeVersion prints the SDK version and the build information embedded in
// the binary.
func writeVersion(out io.Writer) {
	fmt.Fprintf(out, "perseus %s\n", perseus.Version)
	fmt.Fprintf(out, "platform: %s/%s\n", runtime.GOOS, runtime.GOARCH)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintf(out, "go: %s\nbuild info: none embedded\n", runtime.Version())
		return
	}
	fmt.Fprintf(out, "go: %s\nmodule: %s %s\n", bi.GoVersion, bi.Main.Path, bi.Main.Version)
	vcs := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs", "vcs.revision", "vcs.time", "vcs.modified":
			fmt.Fprintf(out, "%s: %s\n", s.Key, s.Value)
			vcs = true
		}
	}
	if !vcs {
		fmt.Fprintln(out, "vcs: none (not built from a git checkout, or built with -buildvcs=false)")
	}
}
