package perseus

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
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
}
