package ingest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"
	"testing/iotest"
	"time"
)

func TestCopyHashingCopiesAndHashesTheSameBytes(t *testing.T) {
	for _, size := range []int{0, 1, 256<<10 - 1, 256 << 10, 1 << 20, 1<<20 + 1, 3<<20 + 17} {
		data := randomBytes(size)
		var dst bytes.Buffer
		h := sha256.New()
		// Whole reads, and reads of half what was asked.
		for _, src := range []io.Reader{bytes.NewReader(data), iotest.HalfReader(bytes.NewReader(data))} {
			dst.Reset()
			h.Reset()
			n, err := copyHashing(&dst, src, h)
			if err != nil || n != int64(size) || !bytes.Equal(dst.Bytes(), data) {
				t.Fatalf("size %d: copied %d, %v; equal %v", size, n, err, bytes.Equal(dst.Bytes(), data))
			}
			if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("size %d: the hash is not of the bytes copied", size)
			}
		}
	}
}

func TestCopyHashingReturnsTheFirstError(t *testing.T) {
	for _, size := range []int{1000, 1 << 20, 3<<20 + 17} { // within the first buffer, at its end, past it
		t.Run(fmt.Sprint(size), func(t *testing.T) { testCopyHashingErrors(t, size) })
	}
}

func testCopyHashingErrors(t *testing.T, size int) {
	boom := errors.New("boom")
	data := randomBytes(size)
	src := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom))
	if n, err := copyHashing(io.Discard, src, sha256.New()); !errors.Is(err, boom) || n != int64(len(data)) {
		t.Fatalf("read error: %d, %v; want %d, boom", n, err, len(data))
	}
	if n, err := copyHashing(failingWriter{boom}, bytes.NewReader(data), sha256.New()); !errors.Is(err, boom) || !storeFailed(err) || n != 0 {
		t.Fatalf("write error: %d, %v; want 0, boom, the store's", n, err)
	}
	if _, err := copyHashing(io.Discard, src, sha256.New()); storeFailed(err) {
		t.Fatal("a read error taken for the store's")
	}
	if n, err := copyHashing(shortWriter{}, bytes.NewReader(data), sha256.New()); !errors.Is(err, io.ErrShortWrite) || !storeFailed(err) || n != 0 {
		t.Fatalf("short write: %d, %v; want 0, io.ErrShortWrite", n, err)
	}
}

// TestCopyHashingSurvivesAPanickingWriter: the panic reaches the caller
// and nothing waits forever.
func TestCopyHashingSurvivesAPanickingWriter(t *testing.T) {
	done := make(chan any)
	for _, size := range []int{1000, 3 << 20} { // one buffer, and several
		go func() {
			defer func() { done <- recover() }()
			copyHashing(panicWriter{}, bytes.NewReader(randomBytes(size)), sha256.New())
		}()
		select {
		case p := <-done:
			if p == nil {
				t.Fatalf("size %d: the panic did not reach the caller", size)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("size %d: copyHashing hangs after its writer panicked", size)
		}
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

type shortWriter struct{}

func (shortWriter) Write(b []byte) (int, error) { return len(b) / 2, nil }

type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("boom") }

// BenchmarkReceiveHashing compares hashing beside the copy (copyHashing)
// with hashing in line (io.MultiWriter), into a real file as the local
// store writes one.
func BenchmarkReceiveHashing(b *testing.B) {
	data := randomBytes(64 << 20)
	for _, tc := range []struct {
		name string
		copy func(dst io.Writer, src io.Reader) (int64, error)
	}{
		{"MultiWriter", func(dst io.Writer, src io.Reader) (int64, error) {
			return io.CopyBuffer(io.MultiWriter(dst, sha256.New()), src, make([]byte, 1<<20)) // as receive did
		}},
		{"copyHashing", func(dst io.Writer, src io.Reader) (int64, error) { return copyHashing(dst, src, sha256.New()) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := os.CreateTemp(b.TempDir(), "recv")
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				f.Seek(0, io.SeekStart)
				if _, err := tc.copy(f, bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// copyFull hands on whole buffers, whatever the pieces src yields, and
// tells src's clean end from a body cut off.
func TestCopyFullWritesWholeBuffers(t *testing.T) {
	data := randomBytes(5<<19 + 123) // 2.5 MiB and a bit
	var sizes []int
	dst := writerFunc(func(b []byte) (int, error) { sizes = append(sizes, len(b)); return len(b), nil })
	buf := *copyBufs.Get().(*[]byte)
	n, err := copyFull(dst, iotest.HalfReader(bytes.NewReader(data)), buf)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("copyFull = %d, %v; want %d, nil", n, err, len(data))
	}
	if want := []int{1 << 20, 1 << 20, len(data) - 2<<20}; !slices.Equal(sizes, want) {
		t.Errorf("writes of %v, want %v", sizes, want)
	}
	cut := io.MultiReader(bytes.NewReader(data[:1000]), iotest.ErrReader(io.ErrUnexpectedEOF))
	if n, err := copyFull(dst, cut, buf); !errors.Is(err, io.ErrUnexpectedEOF) || n != 1000 {
		t.Errorf("copyFull of a body cut off = %d, %v; want 1000, io.ErrUnexpectedEOF", n, err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
