package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/store/blob"
)

// tamperer is a proxy between a store and the S3 server that may flip one
// byte of every PUT body in flight, and may hide the stored CRC64NVME from
// HEAD answers, as a store that keeps none would.
type tamperer struct {
	flipAt  int64 // offset of the byte to flip, or -1
	hideCRC bool
	flipped atomic.Int64 // bytes flipped so far
}

// via returns a copy of s whose requests all go through a tamperer. The
// copy's URLs are signed for the proxy's host, which the proxy passes on.
func via(t *testing.T, s *Store, tp *tamperer) *Store {
	t.Helper()
	target := mustParse(t, aws.ToString(s.client.Options().BaseEndpoint))
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
			if r.In.Method == http.MethodPut && tp.flipAt >= 0 && r.In.ContentLength > tp.flipAt {
				r.Out.Body = &flipReader{r: r.In.Body, at: tp.flipAt, n: &tp.flipped}
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			if tp.hideCRC && resp.Request.Method == http.MethodHead {
				resp.Header.Del("X-Amz-Checksum-Crc64nvme")
				resp.Header.Del("X-Amz-Checksum-Type")
			}
			return nil
		},
	})
	t.Cleanup(proxy.Close)
	c := s3.New(s.client.Options(), func(o *s3.Options) { o.BaseEndpoint = aws.String(proxy.URL) })
	p := *s
	p.client, p.presign = c, s3.NewPresignClient(c)
	return &p
}

// flipReader inverts the byte at offset at of what r reads.
type flipReader struct {
	r   io.ReadCloser
	at  int64
	off int64
	n   *atomic.Int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if i := f.at - f.off; i >= 0 && i < int64(n) {
		p[i] ^= 0xff
		f.n.Add(1)
	}
	f.off += int64(n)
	return n, err
}

func (f *flipReader) Close() error { return f.r.Close() }

func putSized(s *Store, key string, data []byte) error {
	ctx := context.Background()
	w, err := s.CreateSized(ctx, key, int64(len(data)))
	if err != nil {
		return err
	}
	for off := 0; off < len(data); off += 256 << 10 {
		if _, err := w.Write(data[off:min(off+256<<10, len(data))]); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Commit(ctx)
}

func TestCreateSizedRefusesBytesChangedInFlight(t *testing.T) {
	data := make([]byte, 2<<20+99)
	rand.Read(data)
	for _, tc := range []struct {
		name string
		tp   *tamperer
	}{
		{"StoredCRC", &tamperer{flipAt: 1<<20 + 3}},
		{"ReadBackWhenTheStoreKeepsNoCRC", &tamperer{flipAt: 1<<20 + 3, hideCRC: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			p := via(t, s, tc.tp)
			err := putSized(p, "f/obj", data)
			if tc.tp.flipped.Load() != 1 {
				t.Fatalf("the proxy flipped %d bytes, want 1", tc.tp.flipped.Load())
			}
			if err == nil || !strings.Contains(err.Error(), "other bytes than were sent") {
				t.Fatalf("Commit of a PUT changed in flight err = %v, want a mismatch", err)
			}
			if _, err := s.Stat(context.Background(), "f/obj"); !errors.Is(err, blob.ErrNotFound) {
				t.Fatalf("after the mismatch, Stat err = %v, want ErrNotFound", err)
			}
		})
	}
	t.Run("ReadBackPassesTheRightBytes", func(t *testing.T) {
		s := openTest(t)
		if err := putSized(via(t, s, &tamperer{flipAt: -1, hideCRC: true}), "f/obj", data); err != nil {
			t.Fatal(err)
		}
		r, err := s.Open(context.Background(), "f/obj", 0)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if !bytes.Equal(got, data) {
			t.Fatal("read back differs")
		}
	})
}

// A PUT cut off before its end, here by its context, stores nothing and
// leaves the object already under the key as it was.
func TestCreateSizedCutOffStoresNothing(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := putSized(s, "c/obj", []byte("there first")); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := s.CreateSized(wctx, "c/obj", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 2<<20)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := w.Write(make([]byte, 2<<20)); err == nil {
		t.Fatal("Write after the context ended returned nil")
	}
	err = w.Commit(ctx)
	if err == nil {
		t.Fatal("Commit after the context ended returned nil")
	}
	if strings.Contains(err.Error(), "Signature") {
		t.Fatalf("the error shows the presigned URL: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // a server that took the cut for the end has stored it by now
	r, err := s.Open(ctx, "c/obj", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "there first" {
		t.Fatalf("after a cut-off PUT the object holds %d bytes, want the %q that was there", len(got), "there first")
	}
}

func TestCreateSizedCannotCommitAfterTooManyBytes(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	w, err := s.CreateSized(ctx, "m/obj", 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("12345")); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write([]byte("6")); err == nil || n != 0 || !strings.Contains(err.Error(), "size of 5") {
		t.Fatalf("Write past the size = %d, %v; want 0 and an error naming the size", n, err)
	}
	if err := w.Commit(ctx); err == nil {
		t.Fatal("Commit after a Write past the size returned nil")
	}
	if _, err := s.Stat(ctx, "m/obj"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat err = %v, want ErrNotFound", err)
	}
}

func TestCreateSizedReportsTheServersRefusal(t *testing.T) {
	s := *openTest(t)
	s.bucket = "no-such-bucket-perseus"
	err := putSized(&s, "r/obj", []byte("hello"))
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Fatalf("PUT to a missing bucket err = %v, want its status and S3 error", err)
	}
}

func TestCreateSizedRejectsSizesOutOfRange(t *testing.T) {
	s, err := Open(context.Background(), "s3://b?endpoint=http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{-1, s.MaxSized() + 1} {
		if _, err := s.CreateSized(context.Background(), "k", size); err == nil {
			t.Errorf("CreateSized of %d bytes err = nil", size)
		}
	}
}

// openBench opens the test bucket under a prefix of its own.
func openBench(b *testing.B) *Store {
	s, err := Open(context.Background(), testenv.S3URL(b, "perseus-test/bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx := context.Background()
		s.List(ctx, "", func(i blob.Info) error { return s.Delete(ctx, i.Key) })
	})
	return s
}

func benchmarkPut(b *testing.B, create func(s *Store, size int64) (blob.Writer, error)) {
	s := openBench(b)
	data := make([]byte, 64<<20)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		w, err := create(s, int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < len(data); off += 1 << 20 {
			if _, err := w.Write(data[off : off+1<<20]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Commit(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateSized writes 64 MiB with one streamed PutObject.
func BenchmarkCreateSized(b *testing.B) {
	benchmarkPut(b, func(s *Store, size int64) (blob.Writer, error) {
		return s.CreateSized(context.Background(), "bench/obj", size)
	})
}

// BenchmarkCreate writes 64 MiB with Create: a multipart upload of 8 MiB parts.
func BenchmarkCreate(b *testing.B) {
	benchmarkPut(b, func(s *Store, _ int64) (blob.Writer, error) {
		return s.Create(context.Background(), "bench/obj")
	})
}
