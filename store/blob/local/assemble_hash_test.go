package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/perseus-go/perseus/internal/sha256chain"
	"github.com/perseus-go/perseus/store/blob"
)

func sumOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// writePart writes body as part n (of partSize-byte parts of data) and commits it.
func writePart(t *testing.T, s *Store, id string, data []byte, partSize, n int, body []byte) error {
	t.Helper()
	want := data[(n-1)*partSize : min(n*partSize, len(data))]
	w, err := s.CreatePart(context.Background(), id, int64(len(data)), int64((n-1)*partSize),
		blob.Part{Number: n, Size: int64(len(want)), SHA256: sumOf(want)})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body)
	return w.Commit(context.Background())
}

func TestHashOfAnAssemblyKeepsUpWithItsParts(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const partSize = 256 << 10
	data := make([]byte, 6*partSize+77)
	rand.Read(data)
	for n := 1; n <= 7; n++ {
		if err := writePart(t, s, "a", data, partSize, n, data[(n-1)*partSize:min(n*partSize, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	dir, _ := s.assemblyDir("a")
	l := s.liveOf(dir)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		off := l.off
		l.mu.Unlock()
		if off == int64(len(data)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hash stopped at %d of %d bytes after every part was committed", off, len(data))
		}
	}
	if got, n, err := s.HashAssembly(context.Background(), "a"); err != nil || got != sumOf(data) || n != int64(len(data)) {
		t.Fatalf("HashAssembly = %s, %d, %v; want %s", got, n, err, sumOf(data))
	}
}

// Whatever happens to the parts, in whatever order, the hash is that of
// what the file holds when it is sealed.
func TestHashOfAnAssemblyIsOfWhatItHolds(t *testing.T) {
	const partSize = 64 << 10
	for round := range 30 {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 5*partSize+mrand.IntN(partSize))
		rand.Read(data)
		chunk := func(n int) []byte { return data[(n-1)*partSize : min(n*partSize, len(data))] }
		for range 25 {
			n := 1 + mrand.IntN(6)
			switch c := chunk(n); mrand.IntN(4) {
			case 0, 1: // the right bytes
				writePart(t, s, "a", data, partSize, n, c)
			case 2: // other bytes
				writePart(t, s, "a", data, partSize, n, bytes.Repeat([]byte{byte(round)}, len(c)))
			case 3: // cut off
				w, _ := s.CreatePart(context.Background(), "a", int64(len(data)), int64((n-1)*partSize),
					blob.Part{Number: n, Size: int64(len(c)), SHA256: sumOf(c)})
				w.Write(bytes.Repeat([]byte{0xff}, len(c)/2))
				w.Abort()
			}
			if mrand.IntN(3) == 0 {
				time.Sleep(time.Duration(mrand.IntN(2000)) * time.Microsecond)
			}
		}
		got, _, err := s.HashAssembly(context.Background(), "a")
		dir, _ := s.assemblyDir("a")
		held, rerr := os.ReadFile(filepath.Join(dir, dataName))
		if err != nil || rerr != nil || got != sumOf(held) {
			t.Fatalf("round %d: HashAssembly = %s, %v; the file holds bytes hashing to %s (%v)", round, got, err, sumOf(held), rerr)
		}
	}
}

// Another process sharing the directory writes parts too: what it does
// counts, though this one's memory knows nothing of it.
func TestHashOfAnAssemblySeesAnotherProcess(t *testing.T) {
	defer func(d time.Duration) { lockWait = d }(lockWait)
	lockWait = 200 * time.Millisecond
	root := t.TempDir()
	a, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(root) // the other process
	if err != nil {
		t.Fatal(err)
	}
	const partSize = 128 << 10
	data := make([]byte, 5*partSize)
	rand.Read(data)
	chunk := func(n int) []byte { return data[(n-1)*partSize : n*partSize] }
	for n := 1; n <= 5; n++ {
		if err := writePart(t, a, "x", data, partSize, n, chunk(n)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // a has hashed what it committed
	// b writes part 3 again, right, and part 2 with other bytes, cut off.
	if err := writePart(t, b, "x", data, partSize, 3, chunk(3)); err != nil {
		t.Fatal(err)
	}
	w, _ := b.CreatePart(context.Background(), "x", int64(len(data)), partSize,
		blob.Part{Number: 2, Size: partSize, SHA256: sumOf(chunk(2))})
	w.Write(bytes.Repeat([]byte{7}, 1000))
	// Sealing waits for b's writer, and gives up while it is open.
	if _, _, err := a.HashAssembly(context.Background(), "x"); !errors.Is(err, errBusy) {
		t.Fatalf("HashAssembly while another process writes a part: %v, want errBusy", err)
	}
	w.Abort()
	dir, _ := a.assemblyDir("x")
	held, _ := os.ReadFile(filepath.Join(dir, dataName))
	if got, _, err := a.HashAssembly(context.Background(), "x"); err != nil || got != sumOf(held) || got == sumOf(data) {
		t.Fatalf("HashAssembly = %s, %v; want the hash of what the file holds, %s", got, err, sumOf(held))
	}
	if _, err := b.CreatePart(context.Background(), "x", int64(len(data)), 0,
		blob.Part{Number: 1, Size: partSize, SHA256: sumOf(chunk(1))}); err == nil {
		t.Fatal("the other process wrote a part after the assembly was sealed")
	}
}

// A writer in another process that began a part before this one committed
// it, wrote other bytes and died without a word: the part is not taken
// into the hash from memory.
func TestHashOfAnAssemblyOutlivesAWriterThatDied(t *testing.T) {
	root := t.TempDir()
	a, _ := Open(root)
	b, _ := Open(root)
	const partSize = 128 << 10
	data := make([]byte, 3*partSize)
	rand.Read(data)
	chunk := func(n int) []byte { return data[(n-1)*partSize : n*partSize] }
	w, err := b.CreatePart(context.Background(), "x", int64(len(data)), partSize,
		blob.Part{Number: 2, Size: partSize, SHA256: sumOf(chunk(2))})
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		if err := writePart(t, a, "x", data, partSize, n, chunk(n)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // a has hashed what it could
	w.Write(bytes.Repeat([]byte{9}, 5000))
	died := w.(*partWriter) // its process dies, its bytes in the file: the kernel drops its locks
	died.wb.flush(died.f, died.off)
	died.f.Close()
	died.lock.Close()
	dir, _ := a.assemblyDir("x")
	held, _ := os.ReadFile(filepath.Join(dir, dataName))
	if got, _, err := a.HashAssembly(context.Background(), "x"); err != nil || got != sumOf(held) || got == sumOf(data) {
		t.Fatalf("HashAssembly = %s, %v; want the hash of what the file holds, %s", got, err, sumOf(held))
	}
}

// TestChainedPartsAreNotReadAgain checks that chained parts, declared from
// where the part before ends, carry the hash of the whole without a read:
// once the last is committed the prefix holds the SHA-256 of all of it,
// and HashAssembly answers it even though (behind the store's back, as no
// writer could) the bytes on disk were changed since.
func TestChainedPartsAreNotReadAgain(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const partSize = 256 << 10
	data := make([]byte, 3*partSize+100)
	rand.Read(data)
	h := sha256.New()
	for n := 1; n <= 4; n++ {
		body := data[(n-1)*partSize : min(n*partSize, len(data))]
		from, _ := sha256chain.Value(h)
		h.Write(body)
		to := sumOf(data)
		if n < 4 {
			to, _ = sha256chain.Value(h)
		}
		w, err := s.CreatePart(context.Background(), "c", int64(len(data)), int64((n-1)*partSize),
			blob.Part{Number: n, Size: int64(len(body)), From: from, SHA256: to})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
		if err := w.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	dir, _ := s.assemblyDir("c")
	l := s.liveOf(dir)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		got := l.sum
		l.mu.Unlock()
		if got == sumOf(data) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the prefix holds %q after every chained part was committed; want the whole's SHA-256", got)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, dataName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("changed"), partSize+5)
	f.Close()
	if got, n, err := s.HashAssembly(context.Background(), "c"); err != nil || got != sumOf(data) || n != int64(len(data)) {
		t.Fatalf("HashAssembly = %s, %d, %v; want the chain's %s without a read", got, n, err, sumOf(data))
	}
}

// TestWriterOfAPartBeingChainedWaitsOnlyAsLongAsItsContext: a chained
// writer holds its part to itself; another writer of the part waits for
// it, but gives up when its request does.
func TestWriterOfAPartBeingChainedWaitsOnlyAsLongAsItsContext(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2*64<<10)
	rand.Read(data)
	h := sha256.New()
	h.Write(data[:64<<10])
	to, _ := sha256chain.Value(h)
	first, err := s.CreatePart(context.Background(), "w", int64(len(data)), 0,
		blob.Part{Number: 1, Size: 64 << 10, From: sha256chain.IV, SHA256: to})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Abort()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	second, err := s.CreatePart(ctx, "w", int64(len(data)), 0, blob.Part{Number: 1, Size: 64 << 10, SHA256: sumOf(data[:64<<10])})
	if err == nil {
		second.Abort()
		t.Fatal("a second writer of the part began while the chained one held it")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the second writer gave up after %v, not when its context ended", d)
	}
}
