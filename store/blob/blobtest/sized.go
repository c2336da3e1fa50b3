package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/perseus-go/perseus/store/blob"
)

// testSized drives a blob.SizedCreator: exactly the declared size, written
// in pieces or as nothing at all, is stored and replaces what was there;
// too few bytes, too many, or an Abort store nothing.
func testSized(t *testing.T, s blob.Store) {
	sc, ok := s.(blob.SizedCreator)
	if !ok {
		t.Skip("store does not implement blob.SizedCreator")
	}
	ctx := context.Background()
	data := make([]byte, 3<<20+4321)
	rand.Read(data)
	if limit := sc.MaxSized(); limit < int64(len(data)) {
		t.Fatalf("MaxSized = %d, less than the %d bytes of this test", limit, len(data))
	}
	create := func(key string, size int) blob.Writer {
		t.Helper()
		w, err := sc.CreateSized(ctx, key, int64(size))
		if err != nil {
			t.Fatalf("CreateSized(%s, %d): %v", key, size, err)
		}
		return w
	}
	write := func(w blob.Writer, b []byte) {
		t.Helper()
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	missing := func(key, after string) {
		t.Helper()
		if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Stat after %s err = %v, want ErrNotFound", after, err)
		}
	}

	// The exact size in several writes, the last one a single byte.
	w := create("sz/obj", len(data))
	for off := 0; off < len(data)-1; off += 1 << 20 {
		write(w, data[off:min(off+1<<20, len(data)-1)])
	}
	write(w, data[len(data)-1:])
	missing("sz/obj", "the whole size was written but not committed")
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "sz/obj", 0); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes differing from the %d written", len(got), len(data))
	}
	if info, err := s.Stat(ctx, "sz/obj"); err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Stat = %+v, %v; want size %d", info, err, len(data))
	}
	if err := w.Commit(ctx); err == nil {
		t.Fatal("a second Commit returned nil")
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort after Commit: %v", err)
	}

	// Replacing it, with CreateSized as with Create.
	w = create("sz/obj", 5)
	write(w, []byte("newer"))
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "sz/obj", 0); string(got) != "newer" {
		t.Fatalf("after replacing, read %q", got)
	}

	// Nothing at all.
	w = create("sz/empty", 0)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Stat(ctx, "sz/empty"); err != nil || info.Size != 0 {
		t.Fatalf("Stat of the empty object = %+v, %v", info, err)
	}
	if got := read(t, s, "sz/empty", 0); len(got) != 0 {
		t.Fatalf("the empty object reads %q", got)
	}

	// Too few bytes: Commit fails and stores nothing.
	w = create("sz/short", len(data))
	write(w, data[:len(data)-1])
	if err := w.Commit(ctx); err == nil {
		t.Fatal("Commit with one byte short of the declared size returned nil")
	}
	missing("sz/short", "a Commit with too few bytes")

	// Too many: the write that passes the size fails.
	w = create("sz/long", len(data))
	write(w, data[:len(data)-1])
	if _, err := w.Write(data[len(data)-2:]); err == nil {
		t.Fatal("Write past the declared size returned nil")
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	missing("sz/long", "Abort of a writer given too many bytes")

	// Abort after some bytes, or after all of them, stores nothing, and
	// leaves alone what was there.
	for _, n := range []int{1 << 20, len(data)} {
		w = create("sz/aborted", len(data))
		write(w, data[:n])
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("second Abort: %v", err)
		}
		if err := w.Commit(ctx); err == nil {
			t.Fatal("Commit after Abort returned nil")
		}
		missing("sz/aborted", "Abort")
		w = create("sz/obj", len(data))
		write(w, data[:n])
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if got := read(t, s, "sz/obj", 0); string(got) != "newer" {
			t.Fatalf("Abort of a writer of %d bytes changed the object already there to %d bytes", n, len(got))
		}
	}
}
