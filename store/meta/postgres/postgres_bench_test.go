package postgres_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/metatest"
	"github.com/perseus-go/perseus/store/meta/postgres"
)

// The store operations behind each API request, against the database of
// PERSEUS_TEST_POSTGRES_URL, in a schema of their own. The Parallel ones run
// 16 goroutines per CPU, as a server's concurrent requests would.

func benchStore(b *testing.B) *postgres.Store {
	b.Helper()
	base := os.Getenv("PERSEUS_TEST_POSTGRES_URL")
	if base == "" {
		b.Skip("PERSEUS_TEST_POSTGRES_URL not set: run scripts/bench or scripts/test, which start PostgreSQL")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close(ctx)
	name := "b_" + metatest.NewID()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if c, err := pgx.Connect(ctx, base); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE")
			c.Close(ctx)
		}
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	s, err := postgres.Open(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchFile() meta.File {
	return meta.File{ID: metatest.NewID(), Tenant: "t", Name: "f", SourceHash: metatest.Hash(rand.Text()), CreatedAt: time.Now()}
}

// seed claims n files and returns their ids and hashes.
func seed(b *testing.B, s *postgres.Store, n int) ([]string, []string) {
	ids, hashes := make([]string, n), make([]string, n)
	for i := range n {
		f := benchFile()
		f.SourceHash = metatest.Hash(fmt.Sprint("seed", i))
		if _, _, err := s.Claim(context.Background(), f); err != nil {
			b.Fatal(err)
		}
		ids[i], hashes[i] = f.ID, f.SourceHash
	}
	return ids, hashes
}

func BenchmarkClaimParallel(b *testing.B) {
	s := benchStore(b)
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Claim(context.Background(), benchFile()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClaimTenantEachParallel is BenchmarkClaimParallel with a
// tenant for each goroutine: claims of different tenants take different
// event counters (see withEvent), and wait for none of the others'.
func BenchmarkClaimTenantEachParallel(b *testing.B) {
	s := benchStore(b)
	var n atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		tenant := fmt.Sprint("t", n.Add(1))
		for pb.Next() {
			f := benchFile()
			f.Tenant = tenant
			if _, _, err := s.Claim(context.Background(), f); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTransitionParallel(b *testing.B) {
	s := benchStore(b)
	ids, _ := seed(b, s, 2000)
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[int(next.Add(1))%len(ids)]
			if _, err := s.Transition(context.Background(), id, meta.Update{From: meta.StatusPending, To: meta.StatusPending}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGetParallel(b *testing.B) {
	s := benchStore(b)
	ids, _ := seed(b, s, 2000)
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(context.Background(), "t", ids[int(next.Add(1))%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkFindParallel(b *testing.B) {
	s := benchStore(b)
	ids, hashes := seed(b, s, 2000)
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			f, err := s.Find(context.Background(), "t", []string{ids[i%len(ids)]}, []string{hashes[(i+1)%len(hashes)]})
			if err != nil || len(f) != 2 {
				b.Fatal(len(f), err)
			}
		}
	})
}

func BenchmarkKeyByHashParallel(b *testing.B) {
	s := benchStore(b)
	k := meta.Key{ID: "k1", Tenant: "t", Hash: metatest.Hash("key"), CreatedAt: time.Now()}
	if err := s.PutKey(context.Background(), k); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.KeyByHash(context.Background(), k.Hash); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUploadParallel is the writes of one upload: a claim that
// creates a record, then its transition to uploaded; each makes an event.
// The goroutines share one tenant, whose event counter every write takes
// in turn until its commit, or have a tenant each.
func BenchmarkUploadParallel(b *testing.B) {
	for _, shared := range []bool{true, false} {
		b.Run(map[bool]string{true: "one-tenant", false: "tenant-each"}[shared], func(b *testing.B) {
			s := benchStore(b)
			var n atomic.Int64
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				tenant := "t"
				if !shared {
					tenant = fmt.Sprint("t", n.Add(1))
				}
				for pb.Next() {
					f := benchFile()
					f.Tenant = tenant
					if _, _, err := s.Claim(context.Background(), f); err != nil {
						b.Fatal(err)
					}
					if _, err := s.Transition(context.Background(), f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
