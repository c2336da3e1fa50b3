package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/perseus-go/perseus"
	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

func newDownloadCmd(cf *clientFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "download ID [-o PATH]",
		Short: "Download a file's content, verifying its SHA-256",
		Long: `Download the content of an uploaded file and verify that it hashes to the
file's SHA-256.

-o PATH writes it there: to a partial file first, .perseus-ID.part in PATH's
directory, renamed to PATH only once verified, so PATH is never left
half-written or wrong. A download that is cut off (Ctrl-C, a dropped
connection) keeps its partial file, and running the same command again
continues it from its size, asking the server only for the rest (as
curl -C - does); the whole is still verified. Content that does not verify is
removed. PATH gets the mode the umask allows, as other tools' files do.

-o - writes to standard output, streaming, however large the file
(verified at the end: on a mismatch the exit status is 1 and what was
written must not be trusted). Without -o, it goes to the file's own name in
the current directory, which must not exist yet.

When stderr is a terminal, a progress bar shows the bytes, rate and ETA.`,
		Example: `  perseus file download 0193c1de-… -o report.pdf
  perseus file download 0193c1de-… -o - | less`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cf.completeIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			bar := newDownloadBar(cmd.ErrOrStderr())
			var opts []perseus.DownloadOption
			if bar != nil {
				opts = append(opts, perseus.WithDownloadProgress(bar.update))
			}
			if output == "-" {
				w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20)
				_, err := c.File.DownloadFile(ctx, id, w, opts...)
				bar.stop(err == nil)
				if err != nil {
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
				path = filepath.Base(filepath.FromSlash(f.Name)) // reports/a.txt goes to ./a.txt, never elsewhere
				if path == "." || path == ".." || path == string(filepath.Separator) || strings.ContainsRune(path, '\\') {
					return usageError{fmt.Errorf("the file's name %q is not a plain file name: give -o PATH", f.Name)}
				}
				if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("%s already exists: give -o %s to replace it, or another -o PATH", path, path)
				}
			}
			out := newPrinter(cmd, cf.json)
			part := filepath.Join(filepath.Dir(path), perseus.PartialName(id))
			if info, err := os.Stat(part); err == nil && info.Size() > 0 && !cf.json {
				fmt.Fprintf(cmd.ErrOrStderr(), "resuming the download of %s from %s held in %s\n", id, humanize.IBytes(uint64(info.Size())), part)
			}
			n, err := c.File.DownloadFileTo(ctx, id, path, opts...)
			bar.stop(err == nil)
			if err != nil {
				if _, serr := os.Stat(part); serr == nil && !errors.Is(err, perseus.ErrChecksum) {
					return fmt.Errorf("%w\n  (%s kept: run the same command again to continue)", err, part)
				}
				return err
			}
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

// downloadBar draws one progress bar for a download on a terminal.
type downloadBar struct {
	w    io.Writer
	p    *mpb.Progress
	bar  *mpb.Bar
	last time.Time
}

// newDownloadBar returns a bar drawn on w, or nil when w is not a terminal.
func newDownloadBar(w io.Writer) *downloadBar {
	if !isTerminal(w) {
		return nil
	}
	return &downloadBar{w: w}
}

// update takes a report of the SDK: bytes held and the whole size (-1 unknown).
func (b *downloadBar) update(done, total int64) {
	now := time.Now()
	if b.bar == nil {
		b.p = mpb.New(mpb.WithOutput(b.w), mpb.WithWidth(40), mpb.WithRefreshRate(barTick))
		b.bar = b.p.AddBar(max(total, 0), mpb.PrependDecorators(decor.Name("download", decor.WCSyncSpaceR)),
			mpb.AppendDecorators(counters(), rate(), eta()))
		b.bar.SetCurrent(done) // bytes held before (a resume) are no part of the rate
		b.last = now
		return
	}
	b.bar.EwmaSetCurrent(done, now.Sub(b.last))
	b.last = now
}

// stop ends the bar, complete or aborted; it is a no-op on nil.
func (b *downloadBar) stop(ok bool) {
	if b == nil || b.bar == nil {
		return
	}
	if ok {
		b.bar.SetTotal(-1, true)
	} else {
		b.bar.Abort(false)
	}
	b.p.Wait()
}
