// Package blobtest is the conformance suite every blob.Store implementation must pass.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob"
)

// Run runs the suite. open must return a store with no objects under the
// prefixes the suite uses; it is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"CommitMakesObjectVisible", testCommit},
		{"AbortLeavesNothing", testAbort},
		{"CreateReplacesOnCommit", testReplace},
		{"OpenFromOffset", testOffset},
		{"MissingKeysAreNotFound", testMissing},
		{"DeleteIsIdempotent", testDelete},
		{"ListByPrefix", testList},
		{"LargeObjectStreams", testLarge},
		{"CopyWhenSupported", testCopy},
		{"PresignedPutWhenSupported", testPresign},
		{"MultipartWhenSupported", testMultipart},
		{"AssemblerWhenSupported", testAssembler},
		{"ChainedPartsWhenAssembler", testChainedParts},
		{"SizedWhenSupported", testSized},
		{"StreamedPartsWhenSupported", testStreamed},
		{"AppenderWhenSupported", testAppender},
		{"BatchCommitWhenSupported", testBatchCommit},
		{"Ping", func(t *testing.T, s blob.Store) {
			if err := s.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func put(t *testing.T, s blob.Store, key string, data []byte) {
	t.Helper()
	w, err := s.Create(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, s blob.Store, key string, off int64) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), key, off)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testCommit(t *testing.T, s blob.Store) {
	ctx := context.Background()
	w, err := s.Create(ctx, "t/ab/one")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello "))
	w.Write([]byte("world"))
	if _, err := s.Stat(ctx, "t/ab/one"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat before Commit err = %v, want ErrNotFound", err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "t/ab/one", 0); string(got) != "hello world" {
		t.Fatalf("read %q", got)
	}
	info, err := s.Stat(ctx, "t/ab/one")
	if err != nil || info.Size != 11 || info.Key != "t/ab/one" {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
}

func testAbort(t *testing.T, s blob.Store) {
	ctx := context.Background()
	w, err := s.Create(ctx, "t/abort")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("discard me"))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "t/abort"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after Abort err = %v", err)
	}
	var keys []string
	s.List(ctx, "t/", func(i blob.Info) error { keys = append(keys, i.Key); return nil })
	if len(keys) != 0 {
		t.Fatalf("List after Abort = %v, want nothing", keys)
	}
}

func testReplace(t *testing.T, s blob.Store) {
	put(t, s, "t/r", []byte("old"))
	put(t, s, "t/r", []byte("newer"))
	if got := read(t, s, "t/r", 0); string(got) != "newer" {
		t.Fatalf("read %q", got)
	}
}

func testOffset(t *testing.T, s blob.Store) {
	put(t, s, "t/o", []byte("0123456789"))
	if got := read(t, s, "t/o", 4); string(got) != "456789" {
		t.Fatalf("read from 4 = %q", got)
	}
}

func testMissing(t *testing.T, s blob.Store) {
	ctx := context.Background()
	if _, err := s.Open(ctx, "t/none", 0); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open err = %v", err)
	}
	if _, err := s.Stat(ctx, "t/none"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat err = %v", err)
	}
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := context.Background()
	put(t, s, "t/d/x", []byte("x"))
	if err := s.Delete(ctx, "t/d/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "t/d/x"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after Delete err = %v", err)
	}
	if err := s.Delete(ctx, "t/d/x"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
}

func testList(t *testing.T, s blob.Store) {
	for _, k := range []string{"l/a/1", "l/a/2", "l/b/1", "m/1"} {
		put(t, s, k, []byte(k))
	}
	var keys []string
	err := s.List(context.Background(), "l/", func(i blob.Info) error {
		keys = append(keys, i.Key)
		if i.Size != 5 {
			t.Errorf("List size of %s = %d", i.Key, i.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	if len(keys) != 3 || keys[0] != "l/a/1" || keys[2] != "l/b/1" {
		t.Fatalf("List(l/) = %v", keys)
	}
	keys = nil
	s.List(context.Background(), "l/a/", func(i blob.Info) error { keys = append(keys, i.Key); return nil })
	if len(keys) != 2 {
		t.Fatalf("List(l/a/) = %v", keys)
	}
}

func testLarge(t *testing.T, s blob.Store) {
	data := make([]byte, 9<<20+123)
	rand.Read(data)
	w, err := s.Create(context.Background(), "t/large")
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 1 << 16 {
		end := min(off+1<<16, len(data))
		if _, err := w.Write(data[off:end]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "t/large", 0); !bytes.Equal(got, data) {
		t.Fatal("large object read back differs")
	}
}

func testCopy(t *testing.T, s blob.Store) {
	c, ok := s.(blob.Copier)
	if !ok {
		t.Skip("store does not implement blob.Copier")
	}
	put(t, s, "t/src", []byte("copy me"))
	if err := c.Copy(context.Background(), "t/src", "t/dst"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "t/dst", 0); string(got) != "copy me" {
		t.Fatalf("copy read %q", got)
	}
}

func testPresign(t *testing.T, s blob.Store) {
	p, ok := s.(blob.Presigner)
	if !ok {
		t.Skip("store does not implement blob.Presigner")
	}
	u, err := p.PresignPut(context.Background(), "t/presigned", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, u, bytes.NewReader([]byte("raw bytes")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("plain PUT to presigned URL: %s", resp.Status)
	}
	if got := read(t, s, "t/presigned", 0); string(got) != "raw bytes" {
		t.Fatalf("presigned read %q", got)
	}
}
