package perseus

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a connection's ReadFrom that keeps what it is given and
// counts the bodies handed to it as a file, as sendfile takes them.
type recorder struct {
	bytes.Buffer
	fromFiles int
}

func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok {
		if _, ok := lr.R.(*os.File); ok {
			r.fromFiles++
		}
	}
	return r.Buffer.ReadFrom(src)
}

// batchOf writes files of the given sizes and returns a batch body of them
// and the bytes it must send.
func batchOf(t *testing.T, sizes ...int64) (*batchFiles, []byte) {
	var paths, ids []string
	for i, n := range sizes {
		b := make([]byte, n)
		rand.Read(b)
		paths = append(paths, writeTemp(t, string(rune('a'+i)), b))
		ids = append(ids, string(rune('A'+i)))
	}
	bf, err := newBatchFiles(ids, paths, sizes)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), bf.head...)
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		want = append(want, b...)
	}
	return bf, want
}

func TestBatchReader_sendsEachFileFromTheFile(t *testing.T) {
	bf, want := batchOf(t, 5000, 0, 1<<20+3, 1)
	// The transport reads the first bytes itself (its buffer's room after
	// the headers), here into the first file, then hands on the rest.
	for _, first := range []int{0, 10, len(bf.head) + 100} {
		r := bf.open().(*batchReader)
		got := make([]byte, first)
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatal(err)
		}
		if r.remaining() != bf.length()-int64(first) {
			t.Fatalf("after %d bytes read: %d remaining, want %d", first, r.remaining(), bf.length()-int64(first))
		}
		var rec recorder
		n, err := r.sendTo(&rec)
		if err != nil || n != bf.length()-int64(first) {
			t.Fatalf("sendTo after %d bytes: %d, %v", first, n, err)
		}
		if !bytes.Equal(append(got, rec.Bytes()...), want) {
			t.Fatalf("after %d bytes read: the body sent is not the head and the files", first)
		}
		if rec.fromFiles != 4 {
			t.Fatalf("%d files went from the file, want 4", rec.fromFiles)
		}
		// The transport reads on to check the body ends where it said.
		if m, err := r.Read(make([]byte, 10)); m != 0 || err != io.EOF {
			t.Fatalf("read after the end: %d, %v; want 0, EOF", m, err)
		}
		r.Close()
	}
}

func TestBatchReader_failsAFileThatShrankSinceItWasHashed(t *testing.T) {
	bf, _ := batchOf(t, 5000, 7000)
	if err := os.Truncate(bf.paths[1], 6000); err != nil {
		t.Fatal(err)
	}
	r := bf.open().(*batchReader)
	defer r.Close()
	var rec recorder
	if _, err := r.sendTo(&rec); err == nil || !strings.Contains(err.Error(), "1000 bytes early") {
		t.Fatalf("sendTo = %v; want the file's 1000 bytes missing", err)
	}
}

// TestBodyConn_sendsABatchWholeOverTCP: through the default transport, the
// server reads the body the batch's length says, and a second request goes
// on the same connection.
func TestBodyConn_sendsABatchWholeOverTCP(t *testing.T) {
	bf, want := batchOf(t, 3000, 2<<20, 0, 9)
	got := make(chan []byte, 2)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
	})}
	go srv.Serve(ln)
	defer srv.Close()
	var sent atomic.Int32
	testHookSendTo = func() { sent.Add(1) }
	defer func() { testHookSendTo = nil }()
	c := &http.Client{Transport: defaultTransport()}
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String(), bf.open())
		req.ContentLength = bf.length()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if b := <-got; !bytes.Equal(b, want) {
			t.Fatalf("the server read %d bytes, not the %d of the batch", len(b), len(want))
		}
	}
	if sent.Load() != 2 {
		t.Fatalf("%d of 2 batches went by sendTo", sent.Load())
	}
}

// TestDo_doesNotRetryABodyWhoseFileIsGone: a batch whose file was removed,
// or a section whose file was cut short, since it was hashed fails at once
// with the file's error: sending it again would meet the same file.
func TestDo_doesNotRetryABodyWhoseFileIsGone(t *testing.T) {
	client, mux, _ := setup(t, WithRetry(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	var hits, puts atomic.Int32 // one each: a request cut short may reach its handler late
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
	})
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		puts.Add(1)
		io.Copy(io.Discard, r.Body)
	})
	bf, _ := batchOf(t, 5000, 7000)
	os.Remove(bf.paths[1])
	err := client.do(t.Context(), request{method: http.MethodPost, path: "/upload", body: bf}, nil)
	if !isLocal(err) || !errors.Is(err, os.ErrNotExist) || hits.Load() > 1 {
		t.Fatalf("batch of a removed file: %v after %d requests; want the file's error, at once", err, hits.Load())
	}

	path := writeTemp(t, "cut", make([]byte, 300<<10))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	os.Truncate(path, 100<<10)
	err = client.do(t.Context(), request{method: http.MethodPut, path: "/put", body: section{f: f, size: 300 << 10, tr: &tracker{}}}, nil)
	if !isLocal(err) || !errors.Is(err, io.ErrUnexpectedEOF) || puts.Load() > 1 {
		t.Fatalf("section of a file cut short: %v after %d requests; want io.ErrUnexpectedEOF, at once", err, puts.Load())
	}
}
