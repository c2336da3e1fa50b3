package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

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
	hashFirst   bool
	parts       bool
	partSize    string
	partBytes   int64
	name        string // --name: the one file's name
	selection          // --include, --exclude, --hidden
}

func (f *uploadFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.wait, "wait", false, "wait until each file is uploaded (or failed)")
	fl.IntVar(&f.concurrency, "concurrency", 4, "files uploaded at once")
	fl.IntVar(&f.parallel, "parallel-parts", perseus.DefaultParallelParts, "parts of one file sent at once")
	fl.BoolVar(&f.stream, "stream", false, "send new files larger than a part before hashing them, where the server offers it: faster, but an interrupted upload starts over")
	fl.BoolVar(&f.parts, "parts", false, "send new files larger than a part in parts, --parallel-parts at once, hashed here as they leave, instead of in order through the server's tus endpoint: faster where one connection cannot fill the link")
	fl.BoolVar(&f.hashFirst, "hash-first", false, "hash each file whole before sending any of it: content the server has sends no byte, but new content is read twice")
	fl.StringVar(&f.partSize, "part-size", humanize.IBytes(perseus.DefaultPartSize), "`SIZE` of the parts larger files are sent in, e.g. 64MiB (the server's limits may raise it)")
	fl.StringVar(&f.name, "name", "", "the file's `NAME` on the server, for a single file or - (standard input), e.g. reports/q1.pdf")
	fl.StringArrayVar(&f.include, "include", nil, "upload only files whose name matches this `GLOB` (repeatable; see above)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "do not upload files, nor walk directories, whose name matches this `GLOB` (repeatable)")
	fl.BoolVar(&f.hidden, "hidden", false, "also upload dotfiles and dot-directories (.git, .hg, .svn…) found in directories")
}

// check refuses flags that do not go together, and paths --name cannot name.
func (f *uploadFlags) check(args []string) error {
	if err := f.checkSizes(); err != nil {
		return err
	}
	if err := f.selection.check(); err != nil {
		return err
	}
	switch {
	case slices.Contains(args, "-") && len(args) > 1:
		return usageError{errors.New("- reads standard input: give it alone")}
	case args[0] == "-" && f.name == "":
		return usageError{errors.New("- needs --name: standard input has no name of its own")}
	case f.name != "" && len(args) > 1:
		return usageError{fmt.Errorf("--name names one file, and %d paths are given", len(args))}
	case f.name != "" && args[0] != "-":
		if fi, err := os.Stat(args[0]); err == nil && fi.IsDir() {
			return usageError{fmt.Errorf("--name names one file, and %s is a directory", args[0])}
		}
	}
	return nil
}

func (f *uploadFlags) checkSizes() error {
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

// uploadOptions are the SDK's options the flags set, with progress bars
// when stderr is a terminal (bars is nil otherwise).
func (f *uploadFlags) uploadOptions(cmd *cobra.Command) ([]perseus.UploadOption, *progressBars) {
	opts := []perseus.UploadOption{perseus.WithConcurrency(f.concurrency),
		perseus.WithParallelParts(f.parallel), perseus.WithPartSize(f.partBytes), perseus.WithStream(f.stream), perseus.WithHashFirst(f.hashFirst), perseus.WithParts(f.parts)}
	bars := newProgressBars(cmd.ErrOrStderr())
	if bars != nil {
		opts = append(opts, perseus.WithProgress(bars.update))
	}
	return opts, bars
}

// uploadStdin uploads standard input as the file --name, through a
// temporary copy (UploadReader), and prints it (waiting with --wait).
func uploadStdin(cmd *cobra.Command, c *perseus.Client, f uploadFlags, out *printer) error {
	return uploadOne(cmd, c, f, out, cmd.InOrStdin())
}

// uploadOne uploads what r yields as the file --name, and prints it.
func uploadOne(cmd *cobra.Command, c *perseus.Client, f uploadFlags, out *printer, r io.Reader) error {
	ctx := cmd.Context()
	opts, bars := f.uploadOptions(cmd)
	file, err := c.File.UploadReader(ctx, f.name, r, opts...)
	bars.stop()
	if err == nil && f.wait {
		file, err = c.File.WaitForFileUpload(ctx, file.ID)
	}
	if file != nil && err == nil {
		// UploadReader does not say whether the content was there already;
		// a file under another name is one that was.
		out.uploaded(file, f.name, file.Name != f.name)
	}
	return err
}

// uploadAll uploads the sources with one UploadFiles, showing progress bars
// when stderr is a terminal, then prints each file (waiting for it with
// --wait), in their order. A pipe or device named alone with --name is read
// once, as standard input is. problems counts paths that could not be read
// (already reported): any makes the exit status 1, as a failed upload does.
func uploadAll(cmd *cobra.Command, c *perseus.Client, sources []source, problems int, f uploadFlags, out *printer) error {
	ctx := cmd.Context()
	if len(sources) == 1 && !sources[0].regular && f.name != "" {
		r, err := os.Open(sources[0].path)
		if err != nil {
			return err
		}
		defer r.Close()
		return uploadOne(cmd, c, f, out, r)
	}
	var paths, names []string
	for _, s := range sources {
		if !s.regular {
			problems++
			out.errorf("%s: not a regular file (a pipe or a device): name it alone with --name NAME, or pipe it to 'perseus file upload - --name NAME'", s.path)
			continue
		}
		paths, names = append(paths, s.path), append(names, s.name)
	}
	opts, bars := f.uploadOptions(cmd)
	start := time.Now()
	results := c.File.UploadFiles(ctx, paths, append(opts, perseus.WithNames(names))...)
	bars.stop() // before anything is printed, so that no line runs through a bar
	if f.wait {
		forEachResult(results, f.concurrency, func(r *perseus.UploadResult) {
			if r.Err == nil {
				r.File, r.Err = c.File.WaitForFileUpload(ctx, r.File.ID)
			}
		})
	}
	failed := 0
	for i, r := range results {
		if r.Err != nil {
			failed++
			out.errorf("%s: %v", r.Path, r.Err)
			continue
		}
		out.uploaded(r.File, names[i], r.Known) // says when the content was there already, and under which name
	}
	if len(results) > 1 {
		out.summary(summarize(results, time.Since(start)))
	}
	if problems > 0 {
		out.errorf("%d of the given paths could not be read or uploaded (reported above)", problems)
	}
	if failed == 0 && problems == 0 {
		return nil
	}
	if failed == 0 {
		return errSilent
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
