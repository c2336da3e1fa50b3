package sqlite_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// The store operations behind each API request, on a real database file
// (WAL, synchronous=FULL) in the test's temp dir. The Parallel ones run 16
// goroutines per CPU, as a server's concurrent requests would.

func openBench(b *testing.B) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func newFile(tenant string) meta.File {
	return meta.File{ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Name: "f",
		SourceHash: hashOf(rand.Text()), CreatedAt: time.Now().UTC()}
}

// seeded returns a store holding n files of tenant t, written in one
// transaction straight into the database file, and their ids and hashes.
func seeded(b *testing.B, n int) (*sqlite.Store, []string, []string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "meta.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	ids, hashes := make([]string, n), make([]string, n)
	now := time.Now().UnixMilli()
	for i := range n {
		ids[i], hashes[i] = uuid.Must(uuid.NewV7()).String(), hashOf(fmt.Sprint(i))
		if _, err := tx.Exec(`INSERT INTO files (id, tenant, name, source_hash, status, size, reason, created_at, updated_at)
VALUES (?, 't', 'f', ?, 'uploaded', 1, '', ?, ?)`, ids[i], hashes[i], now+int64(i), now+int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	db.Close()
	if s, err = sqlite.Open(context.Background(), path); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, ids, hashes
}

func BenchmarkClaimSerial(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	for b.Loop() {
		if _, _, err := s.Claim(ctx, newFile("t")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClaimParallel(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Claim(ctx, newFile("t")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTransitionParallel(b *testing.B) {
	s, ids, _ := seeded(b, 10000)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[int(next.Add(1))%len(ids)]
			// uploaded → uploaded is a real write of the row, whatever ran before.
			if _, err := s.Transition(ctx, id, meta.Update{From: meta.StatusUploaded, To: meta.StatusUploaded, Size: 1}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGetParallel(b *testing.B) {
	s, ids, _ := seeded(b, 50000)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(ctx, "t", ids[int(next.Add(1))%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFind finds one file by id and one by hash among 50,000 files of
// one tenant: the cost must not grow with the tenant's files.
func BenchmarkFind(b *testing.B) {
	s, ids, hashes := seeded(b, 50000)
	ctx := context.Background()
	b.Run("id", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if f, err := s.Find(ctx, "t", []string{ids[i%len(ids)]}, nil); err != nil || len(f) != 1 {
				b.Fatal(len(f), err)
			}
		}
	})
	b.Run("hash", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if f, err := s.Find(ctx, "t", nil, []string{hashes[i%len(hashes)]}); err != nil || len(f) != 1 {
				b.Fatal(len(f), err)
			}
		}
	})
	b.Run("id+hash", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if f, err := s.Find(ctx, "t", []string{ids[i%len(ids)]}, []string{hashes[(i+1)%len(hashes)]}); err != nil || len(f) != 2 {
				b.Fatal(len(f), err)
			}
		}
	})
}

func BenchmarkKeyByHashParallel(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	k := meta.Key{ID: "k1", Tenant: "t", Hash: hashOf("key"), CreatedAt: time.Now()}
	if err := s.PutKey(ctx, k); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.KeyByHash(ctx, k.Hash); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUploadParallel is the writes of one upload: a claim that
// creates a record, then its transition to uploaded; each makes an event.
// The goroutines share one tenant, whose log every write appends to, or
// have a tenant each.
func BenchmarkUploadParallel(b *testing.B) {
	for _, shared := range []bool{true, false} {
		b.Run(map[bool]string{true: "one-tenant", false: "tenant-each"}[shared], func(b *testing.B) {
			s := openBench(b)
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				tenant := "t"
				if !shared {
					tenant = fmt.Sprint("t", n.Add(1))
				}
				for pb.Next() {
					f, _, err := s.Claim(ctx, newFile(tenant))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
