package local_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"testing"

	"github.com/perseus-go/perseus/store/blob/local"
)

// What the server does per upload on the embedded default: create, write,
// Commit (fsync, rename into a new content directory, fsync the directory),
// with one writer or with many at once; and reading an object back.

func contentKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return "files/default/" + h[:2] + "/" + h + "/" + h[:16]
}

// streamedKey is where a streamed upload's content lives: every one of a
// tenant in one directory.
func streamedKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "files/default/streamed/" + hex.EncodeToString(b)
}

func put(b *testing.B, s *local.Store, data []byte) { putAt(b, s, contentKey(), data) }

func putAt(b *testing.B, s *local.Store, key string, data []byte) {
	ctx := context.Background()
	w, err := s.Create(ctx, key)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		b.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCommit(b *testing.B) {
	for _, size := range []int{4 << 10, 256 << 10, 4 << 20} {
		data := make([]byte, size)
		rand.Read(data)
		b.Run(fmt.Sprintf("%dKiB/serial", size>>10), func(b *testing.B) {
			s, err := local.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				put(b, s, data)
			}
		})
		b.Run(fmt.Sprintf("%dKiB/parallel8", size>>10), func(b *testing.B) {
			s, err := local.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.SetParallelism(4) // 8 writers on 2 CPUs
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					put(b, s, data)
				}
			})
		})
	}
}

// BenchmarkCommitOneDirectory commits small objects into one directory
// from 8 writers, as streamed uploads of one tenant do: their directory
// syncs can be shared.
func BenchmarkCommitOneDirectory(b *testing.B) {
	s, err := local.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 4<<10)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	b.SetParallelism(4) // 8 writers on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			putAt(b, s, streamedKey(), data)
		}
	})
}

func BenchmarkCreateAbort(b *testing.B) {
	s, err := local.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		w, err := s.Create(ctx, contentKey())
		if err != nil {
			b.Fatal(err)
		}
		w.Abort()
	}
}

func BenchmarkOpenRead(b *testing.B) {
	s, err := local.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	data := make([]byte, 64<<20)
	rand.Read(data)
	w, _ := s.Create(ctx, "obj")
	w.Write(data)
	if err := w.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := s.Open(ctx, "obj", 0)
		if err != nil {
			b.Fatal(err)
		}
		io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf)
		r.Close()
	}
}
