package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/dustin/go-humanize"
	"github.com/perseus-go/perseus"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// uploadFlags are the flags of perseus file upload.
type uploadFlags struct {
	wait        bool
	concurrency int
	parallel    int
	stream      bool
	partSize    string
	partBytes   int64
}

func (f *uploadFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.wait, "wait", false, "wait until each file is uploaded (or failed)")
	fl.IntVar(&f.concurrency, "concurrency", 4, "files uploaded at once")
	fl.IntVar(&f.parallel, "parallel-parts", perseus.DefaultParallelParts, "parts of one file sent at once")
	fl.BoolVar(&f.stream, "stream", false, "send new files larger than a part before hashing them, where the server offers it: faster, but an interrupted upload starts over")
	fl.StringVar(&f.partSize, "part-size", humanize.IBytes(perseus.DefaultPartSize), "`SIZE` of the parts larger files are sent in, e.g. 64MiB (the server's limits may raise it)")
}

func (f *uploadFlags) check() error {
	if f.concurrency < 1 {
		return usageError{fmt.Errorf("--concurrency %d: must be at least 1", f.concurrency)}
	}
	if f.parallel < 1 {
		return usageError{fmt.Errorf("--parallel-parts %d: must be at least 1", f.parallel)}
	}
	n, err := humanize.ParseBytes(f.partSize)
	if err != nil || n < 1 || n > 1<<40 {
		return usageError{fmt.Errorf("--part-size %q: give a size such as 16MiB", f.partSize)}
	}
	f.partBytes = int64(n)
	return nil
}

// uploadAll uploads paths with one UploadFiles, showing progress bars when
// stderr is a terminal, then prints each file (waiting for it with --wait),
// in the order of paths.
func uploadAll(cmd *cobra.Command, c *perseus.Client, paths []string, f uploadFlags, out *printer) error {
	ctx := cmd.Context()
	opts := []perseus.UploadOption{perseus.WithConcurrency(f.concurrency),
		perseus.WithParallelParts(f.parallel), perseus.WithPartSize(f.partBytes), perseus.WithStream(f.stream)}
	bars := newProgressBars(cmd.ErrOrStderr())
	if bars != nil {
		opts = append(opts, perseus.WithProgress(bars.update))
	}
	results := c.File.UploadFiles(ctx, paths, opts...)
	bars.stop() // before anything is printed, so that no line runs through a bar
	if f.wait {
		forEachResult(results, f.concurrency, func(r *perseus.UploadResult) {
			if r.Err == nil {
				r.File, r.Err = c.File.WaitForFileUpload(ctx, r.File.ID)
			}
		})
	}
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
			out.errorf("%s: %v", r.Path, r.Err)
			continue
		}
		out.file(r.File)
	}
	if failed == 0 {
		return nil
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		out.errorf("interrupted: %d of %d uploads did not finish; run the same command again to resume them", failed, len(paths))
	}
	return fmt.Errorf("%d of %d uploads failed: %w", failed, len(paths), errSilent)
}

// forEachResult calls fn on every result, at most limit at once.
func forEachResult(results []perseus.UploadResult, limit int, fn func(*perseus.UploadResult)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range results {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(&results[i])
		})
	}
	wg.Wait()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
