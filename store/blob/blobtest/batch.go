package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/perseus-go/perseus/store/blob"
)

// testBatchCommit drives a blob.BatchCommitter: every open writer given is
// committed, into new directories and over an existing object alike, and
// nothing is visible before; a writer already finished is an error of its
// own and stops no other.
func testBatchCommit(t *testing.T, s blob.Store) {
	bc, ok := s.(blob.BatchCommitter)
	if !ok {
		t.Skip("store does not implement blob.BatchCommitter")
	}
	ctx := context.Background()
	put(t, s, "batch/old/obj", []byte("replaced by the batch"))
	keys := []string{"batch/a/1/obj", "batch/a/2/obj", "batch/b/obj", "batch/old/obj"}
	data := map[string][]byte{}
	var ws []blob.Writer
	for i, k := range keys {
		data[k] = make([]byte, 1000*i+7)
		rand.Read(data[k])
		w, err := s.Create(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data[k]); err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	done, err := s.Create(ctx, "batch/done/obj")
	if err != nil {
		t.Fatal(err)
	}
	done.Write([]byte("committed alone"))
	if err := done.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[:3] {
		if _, err := s.Stat(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Stat(%s) before CommitAll: %v, want ErrNotFound", k, err)
		}
	}
	errs := bc.CommitAll(ctx, append(ws[:2:2], append([]blob.Writer{done}, ws[2:]...)...))
	if len(errs) != len(keys)+1 {
		t.Fatalf("CommitAll returned %d errors for %d writers", len(errs), len(keys)+1)
	}
	if errs[2] == nil {
		t.Error("CommitAll of a writer already committed: no error")
	}
	for i, err := range append(errs[:2:2], errs[3:]...) {
		if err != nil {
			t.Errorf("CommitAll of %s: %v", keys[i], err)
		}
	}
	for _, k := range keys {
		if got := read(t, s, k, 0); !bytes.Equal(got, data[k]) {
			t.Errorf("%s: read back %d bytes differing from the %d committed", k, len(got), len(data[k]))
		}
	}
	if got := read(t, s, "batch/done/obj", 0); string(got) != "committed alone" {
		t.Errorf("the writer committed before: %q", got)
	}
	if errs := bc.CommitAll(ctx, nil); len(errs) != 0 {
		t.Errorf("CommitAll of nothing: %v", errs)
	}
	var n int
	s.List(ctx, "batch/", func(blob.Info) error { n++; return nil })
	if n != len(keys)+1 {
		t.Errorf("%d objects under batch/, want %d", n, len(keys)+1)
	}
}
