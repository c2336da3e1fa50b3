package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/dustin/go-humanize"
	"github.com/perseus-go/perseus"
	"github.com/spf13/cobra"
)

// printer writes results to stdout and errors to stderr, one line at a time,
// safely from several goroutines.
type printer struct {
	mu       sync.Mutex
	out, err io.Writer
	asJSON   bool
}

func newPrinter(cmd *cobra.Command, asJSON bool) *printer {
	return &printer{out: cmd.OutOrStdout(), err: cmd.ErrOrStderr(), asJSON: asJSON}
}

// file prints one file: a JSON object as the API returns it, or a line for people.
func (p *printer) file(f *perseus.File) {
	if p.asJSON {
		p.json(f)
		return
	}
	line := fmt.Sprintf("%s  %-8s  %9s  %s", f.ID, f.Status, humanize.IBytes(uint64(f.Size)), f.Name)
	if f.Reason != "" {
		line += "  (" + f.Reason + ")"
	}
	p.linef("%s", line)
}

func (p *printer) json(v any) {
	b, _ := json.Marshal(v)
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "%s\n", b)
}

func (p *printer) linef(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format+"\n", args...)
}

func (p *printer) errorf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.err, "perseus: "+format+"\n", args...)
}
