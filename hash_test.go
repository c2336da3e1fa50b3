package perseus

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
	"time"

	"github.com/perseus-go/perseus/internal/sha256chain"
)

func TestReadAhead_handsOverEveryByteInOrder(t *testing.T) {
	for _, size := range []int{0, 1, 512<<10 - 1, 512 << 10, 3<<20 + 7} {
		data := make([]byte, size)
		rand.Read(data)
		var got bytes.Buffer
		n, err := readAhead(t.Context(), iotest.HalfReader(bytes.NewReader(data)), func(b []byte) { got.Write(b) })
		if err != nil || n != int64(size) || !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("size %d: %d bytes, %v; equal %v", size, n, err, bytes.Equal(got.Bytes(), data))
		}
	}
}

func TestReadAhead_stopsAtAnErrorOrWhenTheContextEnds(t *testing.T) {
	boom := errors.New("boom")
	data := make([]byte, 2<<20)
	if n, err := readAhead(t.Context(), io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)), func([]byte) {}); !errors.Is(err, boom) || n != int64(len(data)) {
		t.Fatalf("read error: %d, %v; want %d, boom", n, err, len(data))
	}
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	_, err := readAhead(ctx, bytes.NewReader(make([]byte, 64<<20)), func([]byte) {
		if calls++; calls == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || calls > 2 {
		t.Fatalf("after cancel: %v, %d calls; want context.Canceled after 2", err, calls)
	}
}

// TestReadAhead_givesItsBuffersBackOnlyOnceItsReaderStopped: a reader
// still filling a buffer after readAhead returned would write into the
// next file's (the race detector sees it).
// TestReadAhead_returnsOnCancelWhileItsReaderHangs: a read that does not
// return (a stuck network mount) does not hold the caller after a cancel.
func TestReadAhead_returnsOnCancelWhileItsReaderHangs(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	release := make(chan struct{})
	defer close(release)
	first := true
	stuck := readerFunc(func(b []byte) (int, error) {
		if first {
			first = false
			return len(b), nil
		}
		<-release
		return 0, io.EOF
	})
	done := make(chan error, 1)
	go func() {
		_, err := readAhead(ctx, stuck, func([]byte) { cancel() })
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("readAhead = %v; want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("readAhead waits for a hung read after its context ended")
	}
}

func TestReadAhead_givesItsBuffersBackOnlyOnceItsReaderStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	slow := readerFunc(func(b []byte) (int, error) {
		time.Sleep(time.Millisecond)
		n := min(len(b), 64<<10)
		clear(b[:n])
		return n, nil
	})
	readAhead(ctx, slow, func([]byte) { cancel() })
	for _, b := range getReadBufs(3) {
		for i := range *b {
			(*b)[i] = 1
		}
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

// TestHashParts_reusesItsBuffers: hashing 1,000 small files allocated
// three 512 KiB buffers each, a tenth of the CLI's CPU in clearing and
// collecting them.
func TestHashParts_reusesItsBuffers(t *testing.T) {
	path := writeTemp(t, "small.bin", make([]byte, 4096))
	hashParts(t.Context(), path, 0) // fills the pool
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const files = 50
	for range files {
		if _, err := hashParts(t.Context(), path, 0); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	// 1.5 MiB a file without reuse; under -race, sync.Pool drops a quarter
	// of what it is given, so about 384 KiB.
	if per := (after.TotalAlloc - before.TotalAlloc) / files; per > 1<<20 {
		t.Fatalf("hashing a 4 KiB file allocated %d bytes; want its buffers reused", per)
	}
}

func TestHashParts_hashesWholeAndEachPartInOnePass(t *testing.T) {
	content := make([]byte, 1<<20+300_001)
	rand.Read(content)
	path := writeTemp(t, "f.bin", content)
	const partSize = 300_001 // not a multiple of the read buffer
	d, err := hashParts(t.Context(), path, partSize)
	if err != nil {
		t.Fatal(err)
	}
	if d.hash != sha256Hex(content) || d.size != int64(len(content)) || len(d.parts) != 5 {
		t.Fatalf("hashParts = %s, %d bytes, %d parts", d.hash, d.size, len(d.parts))
	}
	for i, h := range d.parts {
		if want := sha256Hex(content[i*partSize : min((i+1)*partSize, len(content))]); h != want {
			t.Errorf("part %d hashes to %s, want %s", i+1, h, want)
		}
	}
}

func TestHashChained_keepsTheWholesChainingValueAtEachPartBoundary(t *testing.T) {
	const partSize = 5 * 64 << 10 // a multiple of 64, not of the read buffer
	for _, size := range []int{3 * partSize, 3*partSize + 1, partSize + 63} {
		content := make([]byte, size)
		rand.Read(content)
		d, err := hashChained(t.Context(), writeTemp(t, "f.bin", content), partSize)
		if err != nil {
			t.Fatal(err)
		}
		count := (size + partSize - 1) / partSize
		if d.hash != sha256Hex(content) || d.size != int64(size) || len(d.parts) != count || len(d.from) != count {
			t.Fatalf("size %d: hashChained = %s, %d bytes, %d parts, %d froms", size, d.hash, d.size, len(d.parts), len(d.from))
		}
		h := sha256.New()
		for i := range count {
			if v, _ := sha256chain.Value(h); d.from[i] != v {
				t.Errorf("size %d: part %d from %s, want %s", size, i+1, d.from[i], v)
			}
			h.Write(content[i*partSize : min((i+1)*partSize, size)])
			want := d.hash
			if i < count-1 {
				want, _ = sha256chain.Value(h)
			}
			if d.parts[i] != want {
				t.Errorf("size %d: part %d ends at %s, want %s", size, i+1, d.parts[i], want)
			}
		}
	}
}
