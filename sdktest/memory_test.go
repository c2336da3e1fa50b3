package sdktest

import (
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
)

// TestUploadFile_allocatesFarLessThanTheFile uploads 256 MiB, in parts and
// streamed, to a real server in this process and measures what the process
// (client and server together) allocated meanwhile, and its peak heap:
// holding the file, or a part per request, would show at once.
func TestUploadFile_allocatesFarLessThanTheFile(t *testing.T) {
	t.Run("parts", func(t *testing.T) {
		testUploadMemory(t, "PUT part", 32, perseus.WithParts(true))
	})
	t.Run("tus", func(t *testing.T) {
		testUploadMemory(t, "PATCH tus upload", 2)
	})
	t.Run("stream", func(t *testing.T) {
		testUploadMemory(t, "POST /api/v0/file/stream", 1, perseus.WithStream(true))
	})
}

func testUploadMemory(t *testing.T, route string, requests int, opts ...perseus.UploadOption) {
	if testing.Short() {
		t.Skip("-short: skipping the 256 MiB upload")
	}
	const size = 256 << 20
	path := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size) // sparse, with marks that make every part differ
	for off := int64(0); off < size; off += 1 << 20 {
		f.WriteAt([]byte(time.Duration(off).String()), off)
	}
	f.Close()
	e := newEnv(t, nil)
	c := e.client(nil)

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := c.File.UploadFile(t.Context(), path, append(opts, perseus.WithPartSize(8<<20), perseus.WithParallelParts(4))...)
	runtime.ReadMemStats(&after)
	close(stop)
	<-sampled
	if err != nil || got.Status != perseus.StatusUploaded || got.Size != size {
		t.Fatalf("UploadFile = %+v, %v", got, err)
	}
	if e.count(route) != requests {
		t.Errorf("%d %s requests, want %d", e.count(route), route, requests)
	}
	alloc := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
	t.Logf("uploading %d MiB (%d %s) allocated %.1f MiB in all (client and server); peak heap in use %.1f MiB",
		size>>20, requests, route, alloc, float64(peak.Load())/(1<<20))
	if alloc > 64 || peak.Load() > 64<<20 {
		t.Errorf("allocated %.1f MiB, peak heap %.1f MiB: the upload holds far more than a few buffers", alloc, float64(peak.Load())/(1<<20))
	}
}
