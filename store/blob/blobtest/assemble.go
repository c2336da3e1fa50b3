package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob"
)

// testAssembler drives a blob.Assembler as the server does: parts written
// at their offsets in any order and at once, a part that does not match its
// declared size and SHA-256 never listed, a part written again unlisted
// until it commits, the whole read back and committed to a key, and an
// abandoned assembly deleted.
func testAssembler(t *testing.T, s blob.Store) {
	a, ok := s.(blob.Assembler)
	if !ok {
		t.Skip("store does not implement blob.Assembler")
	}
	ctx := context.Background()
	const partSize = 64 << 10
	data := make([]byte, 7*partSize+1234)
	rand.Read(data)
	chunk := func(n int) []byte { return data[(n-1)*partSize : min(n*partSize, len(data))] }
	part := func(n int) blob.Part { return blob.Part{Number: n, Size: int64(len(chunk(n))), SHA256: sum(chunk(n))} }
	write := func(id string, n int, body []byte) error {
		t.Helper()
		w, err := a.CreatePart(ctx, id, int64(len(data)), int64(n-1)*partSize, part(n))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body) // a store may refuse too many bytes here already
		return w.Commit(ctx)
	}
	listed := func(id string) map[int]blob.Part {
		t.Helper()
		parts, err := a.AssemblyParts(ctx, id)
		if err != nil {
			t.Fatalf("AssemblyParts(%s): %v", id, err)
		}
		out := map[int]blob.Part{}
		for i, p := range parts {
			if i > 0 && parts[i-1].Number >= p.Number {
				t.Fatalf("AssemblyParts(%s) = %+v: not in number order, or a number twice", id, parts)
			}
			if want := part(p.Number); p.Size != want.Size || p.SHA256 != want.SHA256 {
				t.Fatalf("AssemblyParts(%s) lists %+v, want size %d and sha256 %s", id, p, want.Size, want.SHA256)
			}
			out[p.Number] = p
		}
		return out
	}

	if _, err := a.AssemblyParts(ctx, "asm/a"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("AssemblyParts of nothing err = %v, want ErrNotFound", err)
	}
	for _, n := range []int{8, 1} { // any order; 8 is the short last part
		if err := write("asm/a", n, chunk(n)); err != nil {
			t.Fatalf("part %d: %v", n, err)
		}
	}
	wrong := bytes.Repeat([]byte("x"), partSize)
	for name, body := range map[string][]byte{"other bytes": wrong, "too few bytes": chunk(2)[1:], "too many bytes": append(append([]byte{}, chunk(2)...), 0)} {
		if err := write("asm/a", 2, body); !errors.Is(err, blob.ErrPartMismatch) {
			t.Fatalf("part 2 with %s: err = %v, want ErrPartMismatch", name, err)
		}
	}
	if got := listed("asm/a"); len(got) != 2 || got[1].Number != 1 || got[8].Number != 8 {
		t.Fatalf("after refused writes of part 2, AssemblyParts = %+v, want parts 1 and 8", got)
	}
	// Writing a stored part again unlists it; wrong bytes leave it unlisted.
	if err := write("asm/a", 1, wrong); !errors.Is(err, blob.ErrPartMismatch) {
		t.Fatalf("part 1 again with other bytes: err = %v, want ErrPartMismatch", err)
	}
	if got := listed("asm/a"); len(got) != 1 {
		t.Fatalf("after part 1 was overwritten with other bytes, AssemblyParts = %+v, want only part 8", got)
	}
	w, err := a.CreatePart(ctx, "asm/a", int64(len(data)), 0, part(1))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(chunk(1)[:100])
	w.Abort()
	// The rest at once, as parallel clients send them.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for n := 1; n <= 7; n++ {
		wg.Go(func() { errs <- write("asm/a", n, chunk(n)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := listed("asm/a"); len(got) != 8 {
		t.Fatalf("AssemblyParts = %+v, want all 8 parts", got)
	}
	var infos []blob.Info
	if err := a.ListAssemblies(ctx, "asm/", func(i blob.Info) error { infos = append(infos, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Key != "asm/a" || infos[0].Size != int64(len(data)) || time.Since(infos[0].ModTime) > time.Hour {
		t.Fatalf("ListAssemblies(asm/) = %+v, want asm/a of %d bytes, written just now", infos, len(data))
	}
	// Hashing it waits for a writer still at work, then seals it: no part
	// is written any more.
	straggler, err := a.CreatePart(ctx, "asm/a", int64(len(data)), 2*partSize, part(3))
	if err != nil {
		t.Fatal(err)
	}
	straggler.Write(chunk(3)[:10])
	type result struct {
		sum string
		n   int64
		err error
	}
	hashed := make(chan result, 1)
	go func() {
		sum, n, err := a.HashAssembly(ctx, "asm/a")
		hashed <- result{sum, n, err}
	}()
	time.Sleep(100 * time.Millisecond)
	straggler.Abort()
	if r := <-hashed; r.err != nil || r.sum != sum(data) || r.n != int64(len(data)) {
		t.Fatalf("HashAssembly = %+v; want %s, %d", r, sum(data), len(data))
	}
	if w, err := a.CreatePart(ctx, "asm/a", int64(len(data)), 2*partSize, part(3)); err == nil {
		w.Write(wrong)
		if err := w.Commit(ctx); err == nil {
			t.Fatal("a part committed after HashAssembly sealed its assembly")
		}
	}
	if again, _, err := a.HashAssembly(ctx, "asm/a"); err != nil || again != sum(data) {
		t.Fatalf("HashAssembly again = %s, %v; want %s", again, err, sum(data))
	}
	if err := a.CommitAssembly(ctx, "asm/a", "obj/a"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "obj/a", 0); !bytes.Equal(got, data) {
		t.Fatalf("committed object: %d bytes differing from the %d written", len(got), len(data))
	}
	if _, err := a.AssemblyParts(ctx, "asm/a"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("AssemblyParts after CommitAssembly err = %v, want ErrNotFound", err)
	}

	// A part written again after it may have been hashed counts as it is now.
	for n := 1; n <= 8; n++ {
		if err := write("asm/again", n, chunk(n)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // a store hashing as parts land has caught up
	write("asm/again", 2, wrong)
	changed := append(append(append([]byte{}, data[:partSize]...), wrong...), data[2*partSize:]...)
	if got, _, err := a.HashAssembly(ctx, "asm/again"); err != nil || got != sum(changed) {
		t.Fatalf("HashAssembly after part 2 was overwritten = %s, %v; want the hash of what it holds now, %s", got, err, sum(changed))
	}
	a.DeleteAssembly(ctx, "asm/again")
	for n := 1; n <= 8; n++ {
		if err := write("asm/again", n, chunk(n)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	write("asm/again", 5, wrong)
	write("asm/again", 5, chunk(5))
	if got, _, err := a.HashAssembly(ctx, "asm/again"); err != nil || got != sum(data) {
		t.Fatalf("HashAssembly after part 5 was overwritten and written again = %s, %v; want %s", got, err, sum(data))
	}
	a.DeleteAssembly(ctx, "asm/again")

	if err := write("asm/abandoned", 3, chunk(3)); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteAssembly(ctx, "asm/abandoned"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteAssembly(ctx, "asm/abandoned"); err != nil {
		t.Fatalf("second DeleteAssembly: %v", err)
	}
	infos = nil
	a.ListAssemblies(ctx, "", func(i blob.Info) error { infos = append(infos, i); return nil })
	if len(infos) != 0 {
		t.Fatalf("ListAssemblies after commit and delete = %+v, want none", infos)
	}
	var keys []string
	s.List(ctx, "", func(i blob.Info) error { keys = append(keys, i.Key); return nil })
	if len(keys) != 1 || keys[0] != "obj/a" {
		t.Fatalf("objects = %v, want only obj/a: assemblies are not objects", keys)
	}
}
