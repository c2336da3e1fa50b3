package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
)

func TestUploadedSaysWhenTheContentWasAlreadyThere(t *testing.T) {
	f := &perseus.File{ID: "f1", Name: "a.txt", Status: perseus.StatusUploaded, Size: 12}
	for _, tt := range []struct {
		name  string
		known bool
		want  string
	}{
		{"a.txt", false, "f1  uploaded       12 B  a.txt\n"},
		{"a.txt", true, "f1  uploaded       12 B  a.txt  (already uploaded)\n"},
		{"b.txt", true, "f1  uploaded       12 B  a.txt  (already uploaded: exists as a.txt)\n"},
	} {
		var out bytes.Buffer
		p := &printer{out: &out, err: &out}
		p.uploaded(f, tt.name, tt.known)
		if out.String() != tt.want {
			t.Errorf("uploaded(%q, known %v) = %q, want %q", tt.name, tt.known, out.String(), tt.want)
		}
	}
	var out bytes.Buffer
	(&printer{out: &out, err: &out, asJSON: true}).uploaded(f, "b.txt", true)
	if want := `{"id":"f1","name":"a.txt","status":"uploaded","createdAt":"0001-01-01T00:00:00.000Z","sourceHash":"","size":12}` + "\n"; out.String() != want {
		t.Errorf("uploaded --json = %s, want the API's object only", out.String())
	}
}

func TestSummaryCountsNewKnownFailedAndBytes(t *testing.T) {
	results := []perseus.UploadResult{
		{File: &perseus.File{Size: 1024}},
		{File: &perseus.File{Size: 5000}, Known: true},
		{Err: errors.New("x")},
		{File: &perseus.File{Size: 1024}},
	}
	var errb bytes.Buffer
	(&printer{err: &errb}).summary(summarize(results, 1500*time.Millisecond))
	if want := "4 files: 2 new, 1 already uploaded, 1 failed; 2.0 KiB sent in 1.5s\n"; errb.String() != want {
		t.Errorf("summary = %q, want %q", errb.String(), want)
	}
}

func TestErrorLinesCarryOnePrefix(t *testing.T) {
	inner := fmt.Errorf("perseus: file x: %w", perseus.ErrNotFound)
	var errb bytes.Buffer
	(&printer{err: &errb}).errorf("%s: %v", "a.txt", fmt.Errorf("perseus: upload (perseus: retry): %w", inner))
	if want := "perseus: a.txt: upload (retry): file x: not found\n"; errb.String() != want {
		t.Errorf("errorf = %q, want %q", errb.String(), want)
	}
}

func TestExitCodes(t *testing.T) {
	bg := context.Background()
	sigCtx, cancel := context.WithCancelCause(bg)
	cancel(signalled{os.Interrupt})
	for _, tt := range []struct {
		ctx  context.Context
		err  error
		want int
	}{
		{bg, nil, 0},
		{bg, errors.New("x"), 1},
		{bg, usageError{errors.New("x")}, 2},
		{bg, errors.New(`required flag(s) "tenant" not set`), 2},
		{bg, fmt.Errorf("perseus: file x not final after 1s: %w", perseus.ErrTimeout), 3},
		{sigCtx, context.Canceled, 130},
		{sigCtx, nil, 0},
	} {
		if got := exitCode(tt.ctx, tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
