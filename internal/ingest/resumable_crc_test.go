package ingest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/minio/crc64nvme"
)

// brokenAfter reads its bytes, and fails (not with EOF) with the read that
// gives the last of them, as a body whose connection broke right then.
type brokenAfter struct{ b *[]byte }

func (r brokenAfter) Read(p []byte) (int, error) {
	n := copy(p, *r.b)
	*r.b = (*r.b)[n:]
	if len(*r.b) == 0 {
		return n, errReset
	}
	return n, nil
}

var errReset = errors.New("connection reset by peer")

func broken(b []byte) brokenAfter { b = bytes.Clone(b); return brokenAfter{&b} }

// TestWriteResumableHoldsTheLastBytesToTheFileCRC: the write that brings
// the upload's last byte is held to the declared CRC even when the body
// fails after it; a mismatch keeps nothing, and the upload is gone; a
// match keeps the bytes and the CRC of them all.
func TestWriteResumableHoldsTheLastBytesToTheFileCRC(t *testing.T) {
	ctx := context.Background()
	c := newCore(t)
	content := randomBytes(300000)
	r, err := c.CreateResumable(ctx, "t", int64(len(content)), "f.bin", "", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if r, _, err = c.WriteResumable(ctx, r, bytes.NewReader(content[:1000]), Checks{}); err != nil || r.Offset != 1000 {
		t.Fatalf("first bytes: offset %d, %v", r.Offset, err)
	}
	wrong := crc64nvme.Checksum(content) ^ 1
	_, n, err := c.WriteResumable(ctx, r, broken(content[1000:]), Checks{FileCRC64: &wrong})
	if !errors.Is(err, ErrFileChecksumMismatch) || n != 0 {
		t.Fatalf("a wrong CRC with a body that broke after its last byte: kept %d, %v; want ErrFileChecksumMismatch", n, err)
	}
	if _, err := c.Resumable(ctx, "t", r.ID); !errors.Is(err, ErrUploadNotFound) {
		t.Fatalf("after a wrong CRC the upload is %v, want gone", err)
	}

	r, err = c.CreateResumable(ctx, "t", int64(len(content)), "f.bin", "", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	right := crc64nvme.Checksum(content)
	r, n, err = c.WriteResumable(ctx, r, broken(content), Checks{FileCRC64: &right})
	if err != nil || n != int64(len(content)) || r.crc == nil || *r.crc != right {
		t.Fatalf("the right CRC: kept %d, %v, crc %v", n, err, r.crc)
	}
}
