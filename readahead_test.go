package perseus

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"
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
