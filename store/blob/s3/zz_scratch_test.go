package s3blob

import (
	"context"
	"crypto/sha256"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

type patReader struct{ n, off int64 }

func (r *patReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	for i := range p {
		p[i] = byte((r.off + int64(i)) * 7 >> 3)
	}
	r.off += int64(len(p))
	return len(p), nil
}

func TestScratchHuge(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	const size = 3<<30 + 12345
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	start := time.Now()
	w, _ := s.Create(ctx, "huge")
	h1 := sha256.New()
	if _, err := io.CopyBuffer(io.MultiWriter(w, h1), &patReader{n: size}, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("upload %v parts=%d", time.Since(start), w.(*writer).nparts)
	r, err := s.Open(ctx, "huge", 0)
	if err != nil {
		t.Fatal(err)
	}
	h2 := sha256.New()
	n, _ := io.Copy(h2, r)
	r.Close()
	close(stop)
	if n != size || string(h1.Sum(nil)) != string(h2.Sum(nil)) {
		t.Fatalf("read back %d bytes, hash match %v", n, string(h1.Sum(nil)) == string(h2.Sum(nil)))
	}
	t.Logf("peak HeapInuse %d MiB, total %v", peak.Load()>>20, time.Since(start))
}
