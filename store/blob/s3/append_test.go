package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/perseus-go/perseus/store/blob"
)

// traffic counts the bytes of objects and parts between the store and S3
// (the bodies of PUTs and GETs), but the state objects'.
type traffic struct {
	mu             sync.Mutex
	sent, received int64
}

func (tr *traffic) take() (sent, received int64) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	sent, received, tr.sent, tr.received = tr.sent, tr.received, 0, 0
	return sent, received
}

type countingClient struct {
	next s3.HTTPClient
	tr   *traffic
}

func (c countingClient) Do(req *http.Request) (*http.Response, error) {
	state := strings.HasSuffix(req.URL.Path, "/~state")
	if !state && req.Method == http.MethodPut && req.ContentLength > 0 {
		c.tr.mu.Lock()
		c.tr.sent += req.ContentLength
		c.tr.mu.Unlock()
	}
	resp, err := c.next.Do(req)
	if err == nil && !state && req.Method == http.MethodGet {
		resp.Body = &countingBody{ReadCloser: resp.Body, tr: c.tr}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	tr *traffic
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.tr.mu.Lock()
	b.tr.received += int64(n)
	b.tr.mu.Unlock()
	return n, err
}

// counted makes s count its traffic.
func counted(s *Store) *traffic {
	tr := &traffic{}
	o := s.client.Options()
	if o.HTTPClient == nil {
		o.HTTPClient = awshttp.NewBuildableClient()
	}
	o.HTTPClient = countingClient{next: o.HTTPClient, tr: tr}
	s.client = s3.New(o)
	return tr
}

// appendRange appends data[off:end] to id in uneven writes, checking
// after each that the writer holds at most one part, and commits it.
func appendRange(t *testing.T, s *Store, id string, data []byte, off, end int64, state string) {
	t.Helper()
	ctx := context.Background()
	w, err := s.Append(ctx, id, off, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	aw := w.(*appendWriter)
	for p := off; p < end; {
		q := min(end, p+1+(p*7919)%(700<<10))
		if _, err := w.Write(data[p:q]); err != nil {
			t.Fatal(err)
		}
		if c := int64(cap(aw.buf)); c > aw.part {
			t.Fatalf("the writer holds a buffer of %d bytes, more than a part of %d", c, aw.part)
		}
		p = q
	}
	if err := w.Commit(ctx, []byte(state)); err != nil {
		t.Fatal(err)
	}
}

// TestAppendTraffic checks where bytes go: each once to S3, but a tail's,
// which goes back and forth once per request that ends in it; nothing is
// read back to make the object.
func TestAppendTraffic(t *testing.T) {
	s := openTest(t)
	tr := counted(s)
	ctx := context.Background()
	data := make([]byte, 20<<20+5)
	rand.Read(data)
	size := int64(len(data))
	for _, step := range []struct {
		off, end       int64
		sent, received int64
	}{
		{0, 3000, 3000, 0},                       // a tail
		{3000, 6 << 20, 6 << 20, 3000},           // the tail read back, and sent with the rest as a part of 6 MiB
		{6 << 20, 17 << 20, 11 << 20, 0},         // a part of 8 MiB, a tail of 3 MiB
		{17 << 20, size, size - 14<<20, 3 << 20}, // the tail read back, and sent with the rest as the last part
	} {
		appendRange(t, s, "t/id", data, step.off, step.end, "s")
		if sent, received := tr.take(); sent != step.sent || received != step.received {
			t.Errorf("appending %d..%d sent %d bytes and received %d; want %d and %d",
				step.off, step.end, sent, received, step.sent, step.received)
		}
	}
	if err := s.CommitAppended(ctx, "t/id", "t/obj", nil); err != nil {
		t.Fatal(err)
	}
	if sent, received := tr.take(); sent != 0 || received != 0 {
		t.Errorf("CommitAppended sent %d bytes and received %d; want none", sent, received)
	}
	checkObject(t, s, "t/obj", data)
	tr.take()

	// An object of one part or less, in one request: one object, copied.
	small := data[:5<<20]
	appendRange(t, s, "t/small", small, 0, int64(len(small)), "s")
	if err := s.CommitAppended(ctx, "t/small", "t/small-obj", nil); err != nil {
		t.Fatal(err)
	}
	if sent, received := tr.take(); sent != int64(len(small)) || received != 0 {
		t.Errorf("a small object sent %d bytes and received %d; want %d and none", sent, received, len(small))
	}
	checkObject(t, s, "t/small-obj", small)
}

// TestAppendCrashes drops writers that sent parts without committing, and
// ends a CommitAppended after it completed the upload but before it wrote
// its state: the next ones go on from the last state.
func TestAppendCrashes(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	data := make([]byte, 30<<20+1)
	rand.Read(data)
	size := int64(len(data))
	const id = "c/id"
	appendRange(t, s, id, data, 0, 9<<20, "9")

	w, err := s.Append(ctx, id, 9<<20, size)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 17<<20)
	rand.Read(junk)
	if _, err := w.Write(junk); err != nil {
		t.Fatal(err)
	}
	if n := len(w.(*appendWriter).parts); n != 2 {
		t.Fatalf("17 MiB written after 1 MiB sent %d parts, want 2", n)
	}
	// Dropped: neither Commit nor Abort.
	if n, st, err := s.Appended(ctx, id); err != nil || n != 9<<20 || string(st) != "9" {
		t.Fatalf("Appended = %d, %q, %v after a dropped writer; want %d, \"9\"", n, st, err, 9<<20)
	}
	appendRange(t, s, id, data, 9<<20, 20<<20, "20")
	appendRange(t, s, id, data, 20<<20, size, "whole")

	// CommitAppended ends once the object is complete in ~object.
	st, err := s.readState(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.makeObject(ctx, id, st, "c/first"); err != nil {
		t.Fatal(err)
	}
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: &s.bucket, Key: s.key(stagingKey(id)), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || !completedAs(head, st.Parts) {
		t.Fatalf("the completed upload is not taken for the one of its parts (%v)", err)
	}
	if head.ChecksumSHA256 = nil; !completedAs(head, st.Parts) {
		t.Fatal("the completed upload is not taken for the one of its parts by its ETag")
	}
	if completedAs(head, st.Parts[1:]) {
		t.Fatal("the completed upload is taken for one of other parts")
	}
	if err := s.CommitAppended(ctx, id, "c/obj", []byte("done")); err != nil {
		t.Fatalf("CommitAppended after one ended midway: %v", err)
	}
	checkObject(t, s, "c/obj", data)
	if n, st, err := s.Appended(ctx, id); err != nil || n != size || string(st) != "done" {
		t.Fatalf("Appended = %d, %q, %v after CommitAppended; want %d, \"done\"", n, st, err, size)
	}
	if err := s.CommitAppended(ctx, id, "c/obj", []byte("again")); err != nil {
		t.Fatalf("CommitAppended again to the same key: %v", err)
	}
	if err := s.CommitAppended(ctx, id, "c/other", nil); err == nil {
		t.Fatal("CommitAppended to another key after the bytes went: no error")
	}
	if _, err := s.Append(ctx, id, size, size); err == nil {
		t.Fatal("Append after CommitAppended: no error")
	}
	if err := s.DeleteAppended(ctx, id); err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, s)
}

// TestCommitBeforeWhole commits an appendable whose bytes end in a tail
// after parts: the tail is copied in on the server as the last part.
func TestCommitBeforeWhole(t *testing.T) {
	s := openTest(t)
	tr := counted(s)
	ctx := context.Background()
	data := make([]byte, 20<<20)
	rand.Read(data)
	appendRange(t, s, "w/id", data, 0, 9<<20, "9")
	tr.take()
	if err := s.CommitAppended(ctx, "w/id", "w/obj", nil); err != nil {
		t.Fatal(err)
	}
	if sent, received := tr.take(); sent != 0 || received != 0 {
		t.Errorf("CommitAppended sent %d bytes and received %d; want none", sent, received)
	}
	checkObject(t, s, "w/obj", data[:9<<20])
	if err := s.DeleteAppended(ctx, "w/id"); err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, s)
}

// TestAppendOrphanUploads leaves a multipart upload no state names, as a
// crash would, and aborts one: DeleteAppended and Abort leave none.
func TestAppendOrphanUploads(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for _, abort := range []bool{false, true} {
		w, err := s.Append(ctx, "o/id", 0, 20<<20)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, 9<<20)); err != nil {
			t.Fatal(err)
		}
		if abort {
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.Appended(ctx, "o/id"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Appended of an id never committed: err = %v, want ErrNotFound", err)
		}
	}
	if err := s.DeleteAppended(ctx, "o/id"); err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, s)
}

func TestAppendPartSize(t *testing.T) {
	for _, tc := range []struct{ size, want int64 }{
		{0, 8 << 20},
		{80 << 30, 9 << 20},
		{maxObjectSize, 525 << 20},
	} {
		if got := appendPartSize(tc.size); got != tc.want || got*maxParts < tc.size {
			t.Errorf("appendPartSize(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
	// A short part may not take a number the rest of the object needs.
	w := &appendWriter{st: appendState{Size: maxParts * 9 << 20}, part: 9 << 20, end: 5 << 20}
	if w.partsLeft(1) {
		t.Error("a part of 5 MiB was allowed where the rest needs all 10000 parts of 9 MiB")
	}
	w.end = 9 << 20
	if !w.partsLeft(1) {
		t.Error("a full first part was refused")
	}
}

func TestCheckID(t *testing.T) {
	for _, id := range []string{"a", "a/b.c/D-9_x"} {
		if err := checkID(id); err != nil {
			t.Errorf("checkID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", "a/~state", "a//b", "/a", "a/", "../a", "a/./b", "a b"} {
		if checkID(id) == nil {
			t.Errorf("checkID(%q) = nil, want an error", id)
		}
	}
}

func checkObject(t *testing.T, s *Store, key string, want []byte) {
	t.Helper()
	r, err := s.Open(context.Background(), key, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s holds %d bytes differing from the %d appended (%v)", key, len(got), len(want), err)
	}
}

// checkNothingLeft checks that no appendable has objects or uploads left.
func checkNothingLeft(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	s.List(ctx, appendsPrefix, func(i blob.Info) error {
		t.Errorf("left: %s", i.Key)
		return nil
	})
	s.ListMultipart(ctx, appendsPrefix, func(u blob.Upload) error {
		t.Errorf("left: the upload %s of %s", u.ID, u.Key)
		return nil
	})
}
