package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob"
)

// testMultipart drives a blob.Multiparter as the server does: parts PUT by a
// plain HTTP client to presigned URLs with the headers the store asks for, a
// part with the wrong bytes refused, listed parts carrying their SHA-256, the
// upload completed into one object, and an abandoned upload aborted.
func testMultipart(t *testing.T, s blob.Store) {
	m, ok := s.(blob.Multiparter)
	if !ok {
		t.Skip("store does not implement blob.Multiparter")
	}
	ctx := context.Background()
	const partSize = 5 << 20 // the smallest part S3 accepts that is not the last
	data := make([]byte, 2*partSize+1234)
	rand.Read(data)
	id, err := m.CreateMultipart(ctx, "mp/obj")
	if err != nil {
		t.Fatal(err)
	}
	chunks := [][]byte{data[:partSize], data[partSize : 2*partSize], data[2*partSize:]}
	// Part 2 first: parts may arrive in any order.
	for _, n := range []int{2, 1, 3} {
		if status := putPart(t, m, "mp/obj", id, n, chunks[n-1], chunks[n-1]); status/100 != 2 {
			t.Fatalf("PUT part %d: status %d", n, status)
		}
	}
	// Bytes that do not hash to the signed SHA-256 are refused and change nothing.
	if status := putPart(t, m, "mp/obj", id, 3, bytes.Repeat([]byte("x"), len(chunks[2])), chunks[2]); status/100 == 2 {
		t.Fatalf("PUT of part 3 with bytes that do not match its checksum: status %d, want a refusal", status)
	}
	parts, err := m.ListParts(ctx, "mp/obj", id)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 {
		t.Fatalf("ListParts = %+v, want 3 parts", parts)
	}
	for i, p := range parts {
		if p.Number != i+1 || p.Size != int64(len(chunks[i])) || p.SHA256 != sum(chunks[i]) || p.ETag == "" {
			t.Fatalf("ListParts[%d] = %+v, want part %d of %d bytes with SHA256 %s and an ETag", i, p, i+1, len(chunks[i]), sum(chunks[i]))
		}
	}
	var uploads []blob.Upload
	if err := m.ListMultipart(ctx, "mp/", func(u blob.Upload) error { uploads = append(uploads, u); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(uploads) != 1 || uploads[0].Key != "mp/obj" || uploads[0].ID != id || time.Since(uploads[0].Initiated) > time.Hour {
		t.Fatalf("ListMultipart(mp/) = %+v, want the one upload %s of mp/obj", uploads, id)
	}
	if _, err := s.Stat(ctx, "mp/obj"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat before CompleteMultipart err = %v, want ErrNotFound", err)
	}
	etag, err := m.CompleteMultipart(ctx, "mp/obj", id, parts)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "mp/obj", 0); !bytes.Equal(got, data) {
		t.Fatalf("completed object: %d bytes differing from the %d sent", len(got), len(data))
	}
	if info, err := s.Stat(ctx, "mp/obj"); err != nil || etag == "" || info.ETag != etag {
		t.Fatalf("CompleteMultipart returned ETag %q; Stat = %+v, %v, want the same ETag", etag, info, err)
	}
	testNoReplace(t, m, "mp/obj", chunks[2])
	// DeleteIf removes the object only while it is the one its ETag names.
	if err := m.DeleteIf(ctx, "mp/obj", `"0123456789abcdef0123456789abcdef-3"`); err != nil {
		t.Fatalf("DeleteIf with another ETag: %v, want nil", err)
	}
	if _, err := s.Stat(ctx, "mp/obj"); err != nil {
		t.Fatalf("DeleteIf with another ETag removed the object: Stat err = %v", err)
	}
	if err := m.DeleteIf(ctx, "mp/obj", etag); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "mp/obj"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after DeleteIf with its ETag err = %v, want ErrNotFound", err)
	}
	if err := m.DeleteIf(ctx, "mp/obj", etag); err != nil {
		t.Fatalf("DeleteIf of a missing object: %v, want nil", err)
	}

	abandoned, err := m.CreateMultipart(ctx, "mp/abandoned")
	if err != nil {
		t.Fatal(err)
	}
	putPart(t, m, "mp/abandoned", abandoned, 1, chunks[2], chunks[2])
	if err := m.AbortMultipart(ctx, "mp/abandoned", abandoned); err != nil {
		t.Fatal(err)
	}
	if err := m.AbortMultipart(ctx, "mp/abandoned", abandoned); err != nil {
		t.Fatalf("second AbortMultipart: %v", err)
	}
	if _, err := m.ListParts(ctx, "mp/abandoned", abandoned); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("ListParts after AbortMultipart err = %v, want ErrNotFound", err)
	}
	uploads = nil
	m.ListMultipart(ctx, "mp/", func(u blob.Upload) error { uploads = append(uploads, u); return nil })
	if len(uploads) != 0 {
		t.Fatalf("ListMultipart after complete and abort = %+v, want none", uploads)
	}
}

// testNoReplace checks that completing an upload onto an existing object
// fails with ErrExists and leaves the upload to be completed later.
func testNoReplace(t *testing.T, m blob.Multiparter, key string, part []byte) {
	t.Helper()
	ctx := context.Background()
	id, err := m.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer m.AbortMultipart(ctx, key, id)
	putPart(t, m, key, id, 1, part, part)
	parts, err := m.ListParts(ctx, key, id)
	if err != nil || len(parts) != 1 {
		t.Fatalf("ListParts = %+v, %v", parts, err)
	}
	if _, err := m.CompleteMultipart(ctx, key, id, parts); !errors.Is(err, blob.ErrExists) {
		t.Fatalf("CompleteMultipart onto an existing object err = %v, want ErrExists", err)
	}
	if again, err := m.ListParts(ctx, key, id); err != nil || len(again) != 1 {
		t.Fatalf("ListParts after a refused CompleteMultipart = %+v, %v; want the upload as it was", again, err)
	}
	// The object may also appear after the upload began: the condition holds
	// when completing, not when starting. A store that ignores it fails here.
	s := m.(blob.Store)
	later := key + ".later"
	id2, err := m.CreateMultipart(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	defer m.AbortMultipart(ctx, later, id2)
	defer s.Delete(ctx, later)
	putPart(t, m, later, id2, 1, part, part)
	parts, err = m.ListParts(ctx, later, id2)
	if err != nil || len(parts) != 1 {
		t.Fatalf("ListParts = %+v, %v", parts, err)
	}
	w, err := s.Create(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("there first"))
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CompleteMultipart(ctx, later, id2, parts); !errors.Is(err, blob.ErrExists) {
		t.Fatalf("CompleteMultipart onto an object made after the upload began err = %v, want ErrExists", err)
	}
	if got := read(t, s, later, 0); string(got) != "there first" {
		t.Fatalf("the object there first was replaced: %q", got)
	}
}

// putPart PUTs body as part n to a URL presigned for the bytes of signed and
// returns the status.
func putPart(t *testing.T, m blob.Multiparter, key, id string, n int, body, signed []byte) int {
	t.Helper()
	u, header, err := m.PresignPart(context.Background(), key, id,
		blob.Part{Number: n, Size: int64(len(signed)), SHA256: sum(signed)}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
