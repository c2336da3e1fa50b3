package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/perseus-go/perseus/store/blob"
)

// testStreamed drives a blob.PartStreamer: parts written through the
// caller in pieces and in any order; a part written short, long or aborted
// leaves the number as it was; a part written again replaces it; the
// completed object is the parts, confirmed intact; a part whose check is
// not what was sent is not; and a key already taken is refused.
func testStreamed(t *testing.T, s blob.Store) {
	ps, ok := s.(blob.PartStreamer)
	if !ok {
		t.Skip("store does not implement blob.PartStreamer")
	}
	ctx := context.Background()
	const partSize = 5 << 20 // the smallest part S3 accepts that is not the last
	data := make([]byte, 2*partSize+4321)
	rand.Read(data)
	chunks := [][]byte{data[:partSize], data[partSize : 2*partSize], data[2*partSize:]}
	id, err := ps.CreateStreamed(ctx, "st/obj")
	if err != nil {
		t.Fatal(err)
	}
	write := func(n int, size int, b []byte) (blob.PartWriter, error) {
		t.Helper()
		w, err := ps.WritePart(ctx, "st/obj", id, n, int64(size))
		if err != nil {
			t.Fatalf("WritePart(%d): %v", n, err)
		}
		for off := 0; off < len(b); off += 1 << 20 {
			if _, err := w.Write(b[off:min(off+1<<20, len(b))]); err != nil {
				return w, err
			}
		}
		return w, nil
	}
	stored := map[int]blob.Part{}
	commit := func(n int, b []byte) {
		t.Helper()
		w, err := write(n, len(b), b)
		if err == nil {
			err = w.Commit(ctx)
		}
		if err != nil {
			t.Fatalf("part %d: %v", n, err)
		}
		p := w.Part()
		if p.Number != n || p.Size != int64(len(b)) || p.ETag == "" || p.Check == "" {
			t.Fatalf("Part() of part %d = %+v, want its number, %d bytes, an ETag and a Check", n, p, len(b))
		}
		stored[n] = p
	}
	listed := func() map[int]blob.Part {
		t.Helper()
		parts, err := ps.ListParts(ctx, "st/obj", id)
		if err != nil {
			t.Fatal(err)
		}
		m := map[int]blob.Part{}
		for _, p := range parts {
			m[p.Number] = p
		}
		return m
	}

	commit(2, chunks[1])
	other := bytes.Repeat([]byte("o"), len(chunks[0]))
	commit(1, other)
	commit(1, chunks[0]) // written again: replaces the first

	// Short, long and aborted writes of part 3 leave nothing under 3; nor
	// do they disturb part 2.
	if w, err := write(3, len(chunks[2]), chunks[2][:100]); err == nil {
		if err := w.Commit(ctx); err == nil {
			t.Fatal("Commit of a part written short succeeded")
		}
	}
	if w, err := write(3, len(chunks[2]), append(append([]byte{}, chunks[2]...), 'x')); err == nil {
		t.Fatal("writing a byte more than the part's size succeeded")
	} else if err := w.Commit(ctx); err == nil {
		t.Fatal("Commit of a part written long succeeded")
	}
	w, err := write(3, len(chunks[2]), chunks[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := listed(); len(got) != 2 || got[1].ETag != stored[1].ETag || got[2].ETag != stored[2].ETag {
		t.Fatalf("ListParts after failed writes of part 3 = %+v, want parts 1 and 2 as committed (%+v)", got, stored)
	}
	commit(3, chunks[2])

	parts := []blob.Part{stored[1], stored[2], stored[3]}
	if _, err := s.Stat(ctx, "st/obj"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat before CompleteStreamed err = %v, want ErrNotFound", err)
	}
	etag, intact, err := ps.CompleteStreamed(ctx, "st/obj", id, parts)
	if err != nil || !intact || etag == "" {
		t.Fatalf("CompleteStreamed = %q, intact %v, %v; want an ETag, intact", etag, intact, err)
	}
	if got := read(t, s, "st/obj", 0); !bytes.Equal(got, data) {
		t.Fatalf("completed object: %d bytes differing from the %d sent", len(got), len(data))
	}

	// An object whose parts' checks do not combine to what the store holds
	// is not intact, and stays for the caller to read back.
	id2, err := ps.CreateStreamed(ctx, "st/two")
	if err != nil {
		t.Fatal(err)
	}
	pw, err := ps.WritePart(ctx, "st/two", id2, 1, int64(len(chunks[2])))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(chunks[2]); err != nil {
		t.Fatal(err)
	}
	if err := pw.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	p := pw.Part()
	p.Check = stored[1].Check // another part's
	if _, intact, err := ps.CompleteStreamed(ctx, "st/two", id2, []blob.Part{p}); err != nil || intact {
		t.Fatalf("CompleteStreamed with a wrong check: intact %v, %v; want not intact", intact, err)
	}
	if got := read(t, s, "st/two", 0); !bytes.Equal(got, chunks[2]) {
		t.Fatalf("object completed with a wrong check: %d bytes, want the %d sent", len(got), len(chunks[2]))
	}

	// A key that is taken is refused, and the upload stays.
	id3, err := ps.CreateStreamed(ctx, "st/obj")
	if err != nil {
		t.Fatal(err)
	}
	pw, err = ps.WritePart(ctx, "st/obj", id3, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := pw.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ps.CompleteStreamed(ctx, "st/obj", id3, []blob.Part{pw.Part()}); !errors.Is(err, blob.ErrExists) {
		t.Fatalf("CompleteStreamed onto an object err = %v, want ErrExists", err)
	}
	if got := read(t, s, "st/obj", 0); !bytes.Equal(got, data) {
		t.Fatal("the refused complete changed the object")
	}
	if err := ps.AbortMultipart(ctx, "st/obj", id3); err != nil {
		t.Fatal(err)
	}
}
