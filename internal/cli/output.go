package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

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

// apiTime is the API's time shape: UTC, milliseconds, Z.
const apiTime = "2006-01-02T15:04:05.000Z"

// apiFile is a File in the API's own JSON: its field names, in its order,
// sourceHash and size even when empty or 0, and times with three
// fractional digits, so that --json prints what the API answered.
type apiFile struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Status     perseus.Status `json:"status"`
	CreatedAt  string         `json:"createdAt"`
	SourceHash string         `json:"sourceHash"`
	Size       int64          `json:"size"`
	UpdatedAt  string         `json:"updatedAt,omitempty"`
	Reason     string         `json:"reason,omitempty"`
}

func toAPIFile(f *perseus.File) apiFile {
	a := apiFile{ID: f.ID, Name: f.Name, Status: f.Status, CreatedAt: f.CreatedAt.UTC().Format(apiTime),
		SourceHash: f.SourceHash, Size: f.Size, Reason: f.Reason}
	if !f.UpdatedAt.IsZero() {
		a.UpdatedAt = f.UpdatedAt.UTC().Format(apiTime)
	}
	return a
}

// file prints one file: a JSON object as the API returns it, or a line for people.
func (p *printer) file(f *perseus.File) {
	p.fileNote(f, "")
}

// fileNote prints one file, with a note in parentheses for people (none in JSON).
func (p *printer) fileNote(f *perseus.File, note string) {
	if p.asJSON {
		p.json(toAPIFile(f))
		return
	}
	line := fmt.Sprintf("%s  %-8s  %9s  %s", f.ID, f.Status, humanize.IBytes(uint64(f.Size)), f.Name)
	if f.Reason != "" {
		line += "  (" + f.Reason + ")"
	}
	if note != "" {
		line += "  (" + note + ")"
	}
	p.linef("%s", line)
}

// uploaded prints the file one upload ended with. name is the name the
// upload asked for; known says the server already had the content (an
// UploadResult's Known), so nothing was sent. For people, known content
// says "already uploaded", and, when the file that holds it has another
// name, under which name it exists. With --json it prints the file as the
// API returns it, nothing more.
func (p *printer) uploaded(f *perseus.File, name string, known bool) {
	switch {
	case !known:
		p.file(f)
	case f.Name == name || name == "":
		p.fileNote(f, "already uploaded")
	default:
		p.fileNote(f, "already uploaded: exists as "+f.Name)
	}
}

// uploadSummary counts what a multi-file upload did.
type uploadSummary struct {
	New, Known, Failed int
	Sent               int64 // bytes of content sent
	Elapsed            time.Duration
}

// summarize counts results: new and known files, failures, and, as the
// bytes sent, the sizes of the new files (content sent once).
func summarize(results []perseus.UploadResult, elapsed time.Duration) uploadSummary {
	s := uploadSummary{Elapsed: elapsed}
	for _, r := range results {
		switch {
		case r.Err != nil:
			s.Failed++
		case r.Known:
			s.Known++
		default:
			s.New++
			if r.File != nil {
				s.Sent += r.File.Size
			}
		}
	}
	return s
}

// summary prints the line that ends a multi-file upload, on stderr (so that
// stdout keeps one file per line, JSON or not):
//
//	12 files: 9 new, 2 already uploaded, 1 failed; 1.4 GiB sent in 2m3s
func (p *printer) summary(s uploadSummary) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.err, "%d files: %d new, %d already uploaded, %d failed; %s sent in %v\n",
		s.New+s.Known+s.Failed, s.New, s.Known, s.Failed, humanize.IBytes(uint64(s.Sent)), s.Elapsed.Round(time.Millisecond))
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

// errorf prints an error line on stderr, with one "perseus: " prefix
// however many the errors in args carry.
func (p *printer) errorf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.err, "perseus: %s\n", dropPrefixes(fmt.Sprintf(format, args...)))
}

// apiCreateResult is the answer of create in the API's own JSON.
func apiCreateResult(r *perseus.CreateFileResult) any {
	out := struct {
		File            apiFile `json:"file"`
		UploadURL       string  `json:"uploadUrl"`
		UploadExpiresAt string  `json:"uploadExpiresAt,omitempty"`
		MaxFileSize     int64   `json:"maxFileSize"`
	}{File: toAPIFile(r.File), UploadURL: r.UploadURL, MaxFileSize: r.MaxFileSize}
	if !r.UploadExpiresAt.IsZero() {
		out.UploadExpiresAt = r.UploadExpiresAt.UTC().Format(apiTime)
	}
	return out
}

// isSHA256 reports whether s is a SHA-256 in hex: 64 hexadecimal digits.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
