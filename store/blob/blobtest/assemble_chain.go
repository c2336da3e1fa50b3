package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus/internal/sha256chain"
	"github.com/perseus-go/perseus/store/blob"
)

// chainOf returns the chained parts of data in parts of partSize: each
// from the chaining value after the parts before it, to the value after
// it, the last to the SHA-256 of all of data.
func chainOf(t *testing.T, data []byte, partSize int) []blob.Part {
	t.Helper()
	h := sha256.New()
	var parts []blob.Part
	for off := 0; off < len(data); off += partSize {
		from, err := sha256chain.Value(h)
		if err != nil {
			t.Fatal(err)
		}
		end := min(off+partSize, len(data))
		h.Write(data[off:end])
		to := sum(data)
		if end < len(data) {
			if to, err = sha256chain.Value(h); err != nil {
				t.Fatal(err)
			}
		}
		parts = append(parts, blob.Part{Number: len(parts) + 1, Size: int64(end - off), From: from, SHA256: to})
	}
	return parts
}

// testChainedParts drives chained parts (blob.Part.From) through a
// blob.Assembler: each is checked as a piece of the whole's SHA-256, in
// any order and at once; bytes that do not continue the hash from the
// declared value to the declared one are refused; and a chain that does
// not hold together (a part declared from a value that is not where the
// part before it ended) proves nothing: HashAssembly still answers the
// hash of the bytes the assembly holds.
func testChainedParts(t *testing.T, s blob.Store) {
	a, ok := s.(blob.Assembler)
	if !ok {
		t.Skip("store does not implement blob.Assembler")
	}
	ctx := context.Background()
	const partSize = 64 << 10
	data := make([]byte, 6*partSize+777)
	rand.Read(data)
	chain := chainOf(t, data, partSize)
	chunk := func(n int) []byte { return data[(n-1)*partSize : min(n*partSize, len(data))] }
	write := func(id string, p blob.Part, body []byte) error {
		t.Helper()
		w, err := a.CreatePart(ctx, id, int64(len(data)), int64(p.Number-1)*partSize, p)
		if err != nil {
			return err
		}
		w.Write(body)
		return w.Commit(ctx)
	}

	// Wrong bytes, or the right bytes continued from another value, are refused.
	wrong := bytes.Repeat([]byte("x"), partSize)
	if err := write("chain/a", chain[1], wrong); !errors.Is(err, blob.ErrPartMismatch) {
		t.Fatalf("chained part 2 with other bytes: err = %v, want ErrPartMismatch", err)
	}
	fromIV := chain[1]
	fromIV.From = sha256chain.IV
	if err := write("chain/a", fromIV, chunk(2)); !errors.Is(err, blob.ErrPartMismatch) {
		t.Fatalf("chained part 2 declared from the IV: err = %v, want ErrPartMismatch", err)
	}
	// Not at a block boundary: no chaining value exists there.
	odd := blob.Part{Number: 1, Size: 100, From: sha256chain.IV, SHA256: chain[0].SHA256}
	if w, err := a.CreatePart(ctx, "chain/a", int64(len(data)), 0, odd); err == nil {
		w.Abort()
		t.Fatal("CreatePart took a chained part ending off a block boundary")
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(chain))
	for i := len(chain) - 1; i >= 0; i-- {
		wg.Go(func() { errs <- write("chain/a", chain[i], chunk(i+1)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	parts, err := a.AssemblyParts(ctx, "chain/a")
	if err != nil || len(parts) != len(chain) {
		t.Fatalf("AssemblyParts = %+v, %v; want the %d chained parts", parts, err, len(chain))
	}
	for i, p := range parts {
		if p.Number != chain[i].Number || p.Size != chain[i].Size || p.From != chain[i].From || p.SHA256 != chain[i].SHA256 {
			t.Fatalf("AssemblyParts lists %+v, want %+v", p, chain[i])
		}
	}
	if got, n, err := a.HashAssembly(ctx, "chain/a"); err != nil || got != sum(data) || n != int64(len(data)) {
		t.Fatalf("HashAssembly = %s, %d, %v; want %s, %d", got, n, err, sum(data), len(data))
	}
	if err := a.CommitAssembly(ctx, "chain/a", "obj/chained"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "obj/chained", 0); !bytes.Equal(got, data) {
		t.Fatal("the committed object is not the bytes written")
	}

	// A broken chain: part 2 holds other bytes, declared honestly (from
	// where part 1 ends, to where those bytes end), and part 3 on declares
	// from where the true part 2 would have ended. Every part checks out
	// alone; the whole is not data.
	changed := append(append(append([]byte{}, data[:partSize]...), wrong...), data[2*partSize:]...)
	liar := chainOf(t, changed, partSize)[1]
	for i, p := range chain {
		body := chunk(i + 1)
		if i == 1 {
			p, body = liar, wrong
		}
		if err := write("chain/broken", p, body); err != nil {
			t.Fatalf("part %d of the broken chain: %v", i+1, err)
		}
	}
	if got, _, err := a.HashAssembly(ctx, "chain/broken"); err != nil || got != sum(changed) {
		t.Fatalf("HashAssembly of a broken chain = %s, %v; want the hash of what it holds, %s", got, err, sum(changed))
	}
	a.DeleteAssembly(ctx, "chain/broken")

	// A chained part written again with other bytes counts as it is now.
	for i, p := range chain {
		if err := write("chain/again", p, chunk(i+1)); err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
	}
	changed3 := append(append(append([]byte{}, data[:2*partSize]...), wrong...), data[3*partSize:]...)
	if err := write("chain/again", chainOf(t, changed3, partSize)[2], wrong); err != nil {
		t.Fatal(err)
	}
	if got, _, err := a.HashAssembly(ctx, "chain/again"); err != nil || got != sum(changed3) {
		t.Fatalf("HashAssembly after part 3 was written again = %s, %v; want %s", got, err, sum(changed3))
	}
	a.DeleteAssembly(ctx, "chain/again")

	testChainedPartRace(t, a, s)

	// Chained and plain parts mix.
	for i, p := range chain {
		if i%2 == 1 {
			p = blob.Part{Number: p.Number, Size: p.Size, SHA256: sum(chunk(i + 1))}
		}
		if err := write("chain/mixed", p, chunk(i+1)); err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
	}
	if got, _, err := a.HashAssembly(ctx, "chain/mixed"); err != nil || got != sum(data) {
		t.Fatalf("HashAssembly of mixed parts = %s, %v; want %s", got, err, sum(data))
	}
	a.DeleteAssembly(ctx, "chain/mixed")
}

// testChainedPartRace: while a chained part is being written, another
// writer of the same part puts other bytes in its region and fails. Part
// of what the chained writer checked is then not what the region holds,
// so its check must not stand for the region: whatever the interleaving,
// HashAssembly answers the SHA-256 of exactly the bytes CommitAssembly
// makes the object.
func testChainedPartRace(t *testing.T, a blob.Assembler, s blob.Store) {
	ctx := context.Background()
	const partSize = 64 << 10
	data := make([]byte, 3*partSize)
	rand.Read(data)
	chain := chainOf(t, data, partSize)
	garbage := bytes.Repeat([]byte{0xee}, partSize)
	other := blob.Part{Number: 2, Size: partSize, SHA256: sum(garbage[:1])} // any other declaration
	size, off := int64(len(data)), int64(partSize)

	for _, order := range []string{"other writer first", "chained writer first"} {
		id := "race/" + strings.ReplaceAll(order, " ", "-")
		var honest, rogue blob.Writer
		var err error
		rogueDone := make(chan error, 1)
		startRogue := func() {
			go func() {
				w, err := a.CreatePart(ctx, id, size, off, other) // may wait for the chained writer
				if err != nil {
					rogueDone <- err
					return
				}
				w.Write(garbage[:partSize/2])
				rogueDone <- w.Commit(ctx) // fails: not its declared bytes
			}()
		}
		if order == "other writer first" {
			if rogue, err = a.CreatePart(ctx, id, size, off, other); err != nil {
				t.Fatal(err)
			}
			rogue.Write(garbage[:partSize/2])
			go func() {
				time.Sleep(50 * time.Millisecond)
				rogue.Write(garbage[partSize/2:]) // lands while the chained writer is at work
				rogueDone <- rogue.Commit(ctx)
			}()
		}
		honestMade := make(chan error, 1)
		go func() {
			var err error
			honest, err = a.CreatePart(ctx, id, size, off, chain[1])
			honestMade <- err
		}()
		if err := <-honestMade; err != nil {
			t.Fatal(err)
		}
		honest.Write(data[partSize : 2*partSize-1])
		if order == "chained writer first" {
			startRogue()
			time.Sleep(50 * time.Millisecond)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
		honest.Write(data[2*partSize-1 : 2*partSize])
		honestErr := honest.Commit(ctx)
		if err := <-rogueDone; err == nil {
			t.Fatalf("%s: the other writer's bytes were taken as part 2", order)
		}
		_ = honestErr // it may or may not commit: the hash below must hold either way
		for _, n := range []int{1, 3} {
			w, err := a.CreatePart(ctx, id, size, int64(n-1)*partSize, chain[n-1])
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data[(n-1)*partSize : n*partSize])
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		got, _, err := a.HashAssembly(ctx, id)
		if err != nil {
			t.Fatalf("%s: HashAssembly: %v", order, err)
		}
		key := "obj/" + id
		if err := a.CommitAssembly(ctx, id, key); err != nil {
			t.Fatal(err)
		}
		if stored := read(t, s, key, 0); got != sum(stored) {
			t.Fatalf("%s: HashAssembly said %s, but the object it made hashes to %s (the true file: %s)",
				order, got, sum(stored), sum(data))
		}
	}
}
