package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sort"
	"testing"

	"github.com/perseus-go/perseus/store/blob"
)

// testAppender drives a blob.Appender as a tus upload does: appends of any
// size (below and across the 5 MiB an S3 part needs), each committed with
// a state; an aborted append and a failed one change nothing; the whole
// is committed to a key and the appendable keeps its state; deleting it
// removes everything, and listing finds it by prefix.
func testAppender(t *testing.T, s blob.Store) {
	a, ok := s.(blob.Appender)
	if !ok {
		t.Skip("store does not implement blob.Appender")
	}
	ctx := context.Background()
	data := make([]byte, 13<<20+777)
	rand.Read(data)
	size := int64(len(data))
	const id = "ap/tenant/one"

	held := func(wantN int64, wantState string) {
		t.Helper()
		n, st, err := a.Appended(ctx, id)
		if err != nil || n != wantN || string(st) != wantState {
			t.Fatalf("Appended = %d, %q, %v; want %d, %q", n, st, err, wantN, wantState)
		}
	}
	appendAt := func(off, end int64, state string) {
		t.Helper()
		w, err := a.Append(ctx, id, off, size)
		if err != nil {
			t.Fatalf("Append at %d: %v", off, err)
		}
		// In uneven writes, as a request body arrives.
		for p := off; p < end; {
			q := min(end, p+int64(1+(p*7919)%(900<<10)))
			if _, err := w.Write(data[p:q]); err != nil {
				t.Fatalf("Write at %d: %v", p, err)
			}
			p = q
		}
		if err := w.Commit(ctx, []byte(state)); err != nil {
			t.Fatalf("Commit %d..%d: %v", off, end, err)
		}
		held(end, state)
	}

	if _, _, err := a.Appended(ctx, id); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Appended of a new id: err = %v, want ErrNotFound", err)
	}
	appendAt(0, 0, "created") // a Commit of no bytes creates it
	appendAt(0, 3000, "s1")   // small: below any part size
	appendAt(3000, 6<<20+5, "s2")

	// An aborted append, and one whose writer is dropped without a
	// Commit, count for nothing; the next one writes over them.
	w, err := a.Append(ctx, id, 6<<20+5, size)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 6<<20)
	rand.Read(junk)
	if _, err := w.Write(junk); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	held(6<<20+5, "s2")
	w, err = a.Append(ctx, id, 6<<20+5, size)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(junk[:1<<20]); err != nil {
		t.Fatal(err)
	}
	w.Abort()

	// Not where the bytes end: refused, at Append or at Commit.
	if w, err := a.Append(ctx, id, 5, size); err == nil {
		if _, werr := w.Write([]byte("x")); werr == nil && w.Commit(ctx, []byte("bad")) == nil {
			t.Fatal("an append at 5, where no bytes end, was committed")
		}
		w.Abort()
	}
	held(6<<20+5, "s2")

	appendAt(6<<20+5, 6<<20+9, "s3") // 4 bytes
	appendAt(6<<20+9, 12<<20, "s4")

	// Past the object's size: refused, and nothing changes.
	if w, err := a.Append(ctx, id, 12<<20, size); err == nil {
		_, werr := w.Write(make([]byte, size-12<<20+1))
		if werr == nil && w.Commit(ctx, []byte("too much")) == nil {
			t.Fatal("an append past the object's size was committed")
		}
		w.Abort()
	}
	held(12<<20, "s4")
	appendAt(12<<20, size, "whole")

	var listed []blob.Info
	if err := a.ListAppended(ctx, "ap/tenant/", func(i blob.Info) error { listed = append(listed, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Key != id || listed[0].Size != size || listed[0].ModTime.IsZero() {
		t.Fatalf("ListAppended = %+v, want %s of %d bytes", listed, id, size)
	}
	if err := a.ListAppended(ctx, "ap/other/", func(i blob.Info) error {
		t.Errorf("ListAppended(ap/other/) listed %+v", i)
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if err := a.CommitAppended(ctx, id, "ap/obj", []byte("done")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "ap/obj", 0); !bytes.Equal(got, data) {
		t.Fatalf("the committed object has %d bytes differing from the %d appended", len(got), len(data))
	}
	held(size, "done")
	if err := a.CommitAppended(ctx, "ap/tenant/none", "ap/obj2", nil); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("CommitAppended of an unknown id: err = %v, want ErrNotFound", err)
	}

	if err := a.DeleteAppended(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteAppended(ctx, id); err != nil {
		t.Fatalf("DeleteAppended again: %v", err)
	}
	if _, _, err := a.Appended(ctx, id); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Appended after DeleteAppended: err = %v, want ErrNotFound", err)
	}
	if got := read(t, s, "ap/obj", 0); !bytes.Equal(got, data) {
		t.Fatal("DeleteAppended changed the object committed from it")
	}

	// An empty object, and several appendables listed apart.
	const empty = "ap/tenant/empty"
	w, err = a.Append(ctx, empty, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, []byte("e")); err != nil {
		t.Fatal(err)
	}
	if err := a.CommitAppended(ctx, empty, "ap/empty", []byte("e2")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "ap/empty", 0); len(got) != 0 {
		t.Fatalf("the empty object holds %d bytes", len(got))
	}
	for _, other := range []string{"ap/tenant/two", "ap/tenant2/three"} {
		w, err := a.Append(ctx, other, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("0123"))
		if err := w.Commit(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	a.ListAppended(ctx, "ap/tenant/", func(i blob.Info) error { ids = append(ids, i.Key); return nil })
	sort.Strings(ids)
	if len(ids) != 2 || ids[0] != empty || ids[1] != "ap/tenant/two" {
		t.Fatalf("ListAppended(ap/tenant/) = %v, want [%s ap/tenant/two]", ids, empty)
	}
	for _, id := range []string{empty, "ap/tenant/two", "ap/tenant2/three"} {
		if err := a.DeleteAppended(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}
