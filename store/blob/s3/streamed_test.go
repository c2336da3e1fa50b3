package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob"
)

// streamParts writes data as the parts of a new streamed upload to key
// and completes it.
func streamParts(t *testing.T, s *Store, key string, data []byte, partSize int) (intact bool) {
	t.Helper()
	ctx := context.Background()
	id, err := s.CreateStreamed(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var parts []blob.Part
	for n, off := 1, 0; off < len(data); n, off = n+1, off+partSize {
		b := data[off:min(off+partSize, len(data))]
		w, err := s.WritePart(ctx, key, id, n, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, w.Part())
	}
	_, intact, err = s.CompleteStreamed(ctx, key, id, parts)
	if err != nil {
		t.Fatal(err)
	}
	return intact
}

// A byte changed on its way to the store is caught by the full-object
// CRC64NVME: the object is not intact, and the caller must read it back.
func TestCompleteStreamedCatchesBytesChangedInFlight(t *testing.T) {
	data := make([]byte, 5<<20+1000)
	rand.Read(data)
	s := openTest(t)
	tp := &tamperer{flipAt: 1<<20 + 3}
	if streamParts(t, via(t, s, tp), "f/obj", data, 5<<20) {
		t.Fatal("an object with a byte flipped in flight was reported intact")
	}
	if tp.flipped.Load() != 1 {
		t.Fatalf("the proxy flipped %d bytes, want 1", tp.flipped.Load())
	}
	if !streamParts(t, via(t, s, &tamperer{flipAt: -1}), "f/two", data, 5<<20) {
		t.Fatal("the same bytes through the same proxy, untouched, were not reported intact")
	}
}

// A part cut off before its end, here by its context, leaves the part
// already under its number as it was.
func TestWritePartCutOffKeepsThePartThatWasThere(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	id, err := s.CreateStreamed(ctx, "c/obj")
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Repeat([]byte("1"), 3<<20)
	w, err := s.WritePart(ctx, "c/obj", id, 1, int64(len(first)))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(first)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	kept := w.Part()
	wctx, cancel := context.WithCancel(ctx)
	w, err = s.WritePart(wctx, "c/obj", id, 1, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 2<<20)); err != nil {
		t.Fatal(err)
	}
	cancel()
	// The rest after the context ended: refused, whether or not the
	// request has stopped reading yet, so that Commit cannot send the
	// held-back last byte and have the server store the part after all.
	if _, err := w.Write(make([]byte, 2<<20)); err == nil {
		t.Fatal("a Write completing the part after the context ended returned nil")
	}
	if err := w.Commit(ctx); err == nil {
		t.Fatal("Commit after the context ended returned nil")
	}
	time.Sleep(200 * time.Millisecond) // a server that took the cut for the end has stored it by now
	parts, err := s.ListParts(ctx, "c/obj", id)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || parts[0].ETag != kept.ETag || parts[0].Size != kept.Size {
		t.Fatalf("after a cut-off part the upload lists %+v, want the part that was there (%+v)", parts, kept)
	}
	if _, intact, err := s.CompleteStreamed(ctx, "c/obj", id, []blob.Part{kept}); err != nil || !intact {
		t.Fatalf("CompleteStreamed = intact %v, %v", intact, err)
	}
	r, err := s.Open(ctx, "c/obj", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, first) {
		t.Fatalf("the object holds %d bytes, want the %d of the first part", len(got), len(first))
	}
}

// Once every byte of a part is written, the PUT no longer depends on the
// ctx WritePart was given (a client's request that the caller relays,
// which ends when that client goes): Commit's ctx alone bounds it, so a
// part the store takes can be recorded.
func TestWritePartOutlivesItsCallerOnceEveryByteIsIn(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	id, err := s.CreateStreamed(ctx, "f/obj")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5<<20)
	rand.Read(b)
	reqCtx, cancel := context.WithCancel(ctx)
	w, err := s.WritePart(reqCtx, "f/obj", id, 1, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	cancel() // the client went after sending every byte
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit after the caller's ctx ended, every byte written: %v", err)
	}
	parts, err := s.ListParts(ctx, "f/obj", id)
	if err != nil || len(parts) != 1 || parts[0].ETag != w.Part().ETag {
		t.Fatalf("ListParts = %+v, %v; want the part committed", parts, err)
	}
	// Before every byte is in, the caller's ctx still ends the PUT.
	reqCtx, cancel = context.WithCancel(ctx)
	w, err = s.WritePart(reqCtx, "f/obj", id, 2, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b[:1<<20]); err != nil {
		t.Fatal(err)
	}
	cancel()
	w.Write(b[1<<20:])
	if err := w.Commit(ctx); err == nil {
		t.Fatal("Commit of a part whose caller's ctx ended before its last byte succeeded")
	}
}
