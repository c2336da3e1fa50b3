//go:build linux

package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/perseus-go/perseus/store/blob"
)

// How to make a batch of small new objects durable, each into a content
// directory of its own as the server lays them out: one Commit each from
// 8 writers (the PUTs of row 5), CommitAll of batches of 32 with 4 batches
// at once, or the same batches made durable by two syncfs(2) (one for the
// bytes and new directories, one after the renames) instead of fsyncs.
// Sizes are 4 KiB to 1 MiB, as row 5's. b.N counts objects.

func benchKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return "files/default/" + h[:2] + "/" + h + "/" + h[:16]
}

func benchData() [][]byte {
	sizes := []int{4 << 10, 1 << 20, 64 << 10, 512 << 10, 16 << 10, 256 << 10, 128 << 10, 768 << 10}
	out := make([][]byte, len(sizes))
	for i, n := range sizes {
		out[i] = make([]byte, n)
		rand.Read(out[i])
	}
	return out
}

func benchWriters(b *testing.B, s *Store, data [][]byte, n, from int) []blob.Writer {
	ws := make([]blob.Writer, n)
	for j := range ws {
		w, err := s.Create(context.Background(), benchKey())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(data[(from+j)%len(data)]); err != nil {
			b.Fatal(err)
		}
		ws[j] = w
	}
	return ws
}

// commitBySyncfs is CommitAll's alternative, measured only: syncfs once for
// the bytes and the new directories, the renames, syncfs once more.
func (s *Store) commitBySyncfs(ws []blob.Writer) error {
	dirs := map[string]bool{}
	for _, bw := range ws {
		w := bw.(*writer)
		w.done = true
		dirs[filepath.Dir(w.dst)] = true
	}
	for d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := unix.Syncfs(int(ws[0].(*writer).f.Fd())); err != nil {
		return err
	}
	for _, bw := range ws {
		w := bw.(*writer)
		w.f.Close()
		if err := os.Rename(w.f.Name(), w.dst); err != nil {
			return err
		}
	}
	d, err := os.Open(s.objects)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}

func BenchmarkCommitSmallObjects(b *testing.B) {
	data := benchData()
	const batch, inFlight = 32, 4
	batched := func(b *testing.B, commit func(s *Store, ws []blob.Writer) error) {
		s, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		var next sync.Mutex
		left := b.N
		take := func() int {
			next.Lock()
			defer next.Unlock()
			n := min(left, batch)
			left -= n
			return n
		}
		b.ResetTimer()
		var wg sync.WaitGroup
		for g := range inFlight {
			wg.Go(func() {
				for n := take(); n > 0; n = take() {
					if err := commit(s, benchWriters(b, s, data, n, g)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	b.Run("commit-each-8-writers", func(b *testing.B) {
		s, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.SetParallelism(4) // 8 writers on 2 CPUs
		b.RunParallel(func(pb *testing.PB) {
			j := 0
			for pb.Next() {
				w := benchWriters(b, s, data, 1, j)[0]
				j++
				if err := w.Commit(context.Background()); err != nil {
					b.Error(err)
				}
			}
		})
	})
	b.Run(fmt.Sprintf("commit-all-%d-by-%d", batch, inFlight), func(b *testing.B) {
		batched(b, func(s *Store, ws []blob.Writer) error {
			for _, err := range s.CommitAll(context.Background(), ws) {
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	b.Run(fmt.Sprintf("syncfs-%d-by-%d", batch, inFlight), func(b *testing.B) {
		batched(b, func(s *Store, ws []blob.Writer) error { return s.commitBySyncfs(ws) })
	})
}
