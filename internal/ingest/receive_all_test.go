package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// pieces frames contents for ReceiveAll: the pieces of recs and one body.
func pieces(recs []meta.File, contents [][]byte) ([]Piece, io.Reader) {
	ps := make([]Piece, len(recs))
	for i, r := range recs {
		ps[i] = Piece{ID: r.ID, Size: int64(len(contents[i]))}
	}
	return ps, bytes.NewReader(bytes.Join(contents, nil))
}

func TestReceiveAllSettlesEachFileAsReceiveWould(t *testing.T) {
	ctx := context.Background()
	c := newCore(t, func(c *Config) { c.MaxFileSize = 1 << 20 })
	good, big := randomBytes(300<<10), randomBytes(1<<20+1)
	create := func(content []byte) meta.File {
		rec, _, err := c.Create(ctx, "t", "f", hashOf(content))
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	ok1, wrong, tooBig, ok2 := create(good), create([]byte("declared")), create(big), create([]byte("small"))
	gone := create([]byte("deleted"))
	if _, err := c.Delete(ctx, "t", gone.ID); err != nil {
		t.Fatal(err)
	}
	ps, body := pieces([]meta.File{ok1, wrong, gone, tooBig, ok2},
		[][]byte{good, []byte("not declared"), []byte("deleted"), big, []byte("small")})
	out, err := c.ReceiveAll(ctx, "t", ps, body)
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Err != nil || out[0].Rec.Status != meta.StatusUploaded || out[0].Rec.Size != int64(len(good)) {
		t.Errorf("verified bytes: %+v", out[0])
	}
	if !errors.Is(out[1].Err, ErrHashMismatch) {
		t.Errorf("wrong bytes: %v, want ErrHashMismatch", out[1].Err)
	}
	if !errors.Is(out[2].Err, ErrGone) {
		t.Errorf("a deleted file: %v, want ErrGone", out[2].Err)
	}
	if !errors.Is(out[3].Err, ErrTooLarge) { // over the largest file: refused, its bytes read past
		t.Errorf("a file over the largest: %v, want ErrTooLarge", out[3].Err)
	}
	if out[4].Err != nil || out[4].Rec.Status != meta.StatusUploaded {
		t.Errorf("the file after those refused: %+v", out[4])
	}
	if f, _ := c.meta.Get(ctx, "t", wrong.ID); f.Status != meta.StatusFailed {
		t.Errorf("the file whose bytes were wrong is %s, want failed", f.Status)
	}
	var n int
	c.blobs.List(ctx, "files/", func(blob.Info) error { n++; return nil })
	if n != 2 {
		t.Errorf("%d objects stored, want the two that verified", n)
	}
	for _, rec := range []meta.File{ok1, ok2} {
		r, err := c.blobs.Open(ctx, keys.Content(rec), 0)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if hashOf(got) != rec.SourceHash {
			t.Errorf("content of %s does not hash to its sourceHash", rec.ID)
		}
	}
}

func TestReceiveAllRefusesMoreThanItsLimits(t *testing.T) {
	c := newCore(t)
	files, most := c.BatchLimits()
	ps := make([]Piece, files+1)
	if _, err := c.ReceiveAll(context.Background(), "t", ps, bytes.NewReader(nil)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("%d files: %v, want ErrTooLarge", files+1, err)
	}
	if _, err := c.ReceiveAll(context.Background(), "t", []Piece{{ID: "x", Size: most + 1}}, bytes.NewReader(nil)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("%d bytes: %v, want ErrTooLarge", most+1, err)
	}
}

// hiding is a blob store with none of the local store's abilities but
// assembling: no BatchCommitter.
type hiding struct {
	blob.Store
	blob.Assembler
}

func TestReceiveAllIsNotOfferedWithoutABatchCommitter(t *testing.T) {
	c := newCore(t, func(c *Config) { c.Blobs = hiding{c.Blobs, c.Blobs.(blob.Assembler)} })
	if files, bytes := c.BatchLimits(); files != 0 || bytes != 0 {
		t.Errorf("BatchLimits = %d, %d; want 0, 0", files, bytes)
	}
	if _, err := c.ReceiveAll(context.Background(), "t", []Piece{{ID: "x"}}, bytes.NewReader(nil)); !errors.Is(err, ErrNotBatched) {
		t.Errorf("ReceiveAll: %v, want ErrNotBatched", err)
	}
}
