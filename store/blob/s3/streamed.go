package s3blob

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/perseus-go/perseus/store/blob"
)

var _ blob.PartStreamer = (*Store)(nil)

// CreateStreamed starts a multipart upload to key whose parts come through
// this process (WritePart). It asks for no part checksum: the caller hashes
// every byte, and the store's own full-object CRC64NVME, which S3 keeps of
// every object made since 2025 and versitygw too, confirms at the end that
// the object is the bytes sent (CompleteStreamed).
func (s *Store) CreateStreamed(ctx context.Context, key string) (string, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: s.key(key)})
	if err != nil {
		return "", wrap("create multipart upload", key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// WritePart streams part number of the upload, exactly size bytes, to one
// UploadPart (a presigned URL, as CreateSized's PUT), holding back its last
// byte until Commit; see blob.PartStreamer. The part's Check is the
// CRC64NVME of the bytes written.
func (s *Store) WritePart(ctx context.Context, key, uploadID string, number int, size int64) (blob.PartWriter, error) {
	what := fmt.Sprintf("put part %d of %s", number, key)
	if number < 1 || number > 10000 || size < 0 || size > maxSized {
		return nil, fmt.Errorf("s3: %s: part %d of %d bytes is not one S3 takes (1 to 10000, at most %d bytes)", what, number, size, int64(maxSized))
	}
	psr, err := s.presign.PresignUploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.bucket, Key: s.key(key), UploadId: &uploadID, PartNumber: aws.Int32(int32(number)),
		ContentLength: aws.Int64(size)}, s3.WithPresignExpires(sizedURLTTL))
	if err != nil {
		return nil, fmt.Errorf("s3: presign %s: %w", what, err)
	}
	w, err := s.streamPut(ctx, what, psr.Method, psr.URL, psr.SignedHeader, size)
	if err != nil {
		return nil, err
	}
	return &partWriter{streamWriter: w, number: number}, nil
}

// partWriter is a part being streamed; once committed, Part describes it.
type partWriter struct {
	*streamWriter
	number int
	stored bool
}

func (w *partWriter) Commit(ctx context.Context) error {
	if err := w.streamWriter.Commit(ctx); err != nil {
		return err
	}
	if w.etag == "" {
		return fmt.Errorf("s3: %s: the store answered no ETag", w.what)
	}
	w.stored = true
	return nil
}

func (w *partWriter) Part() blob.Part {
	if !w.stored {
		return blob.Part{}
	}
	return blob.Part{Number: w.number, Size: w.size, ETag: w.etag, Check: crcString(w.crc)}
}

// CompleteStreamed completes the upload as CompleteMultipart does, then
// compares the store's full-object CRC64NVME of what it made (from its
// answer, else from a HEAD of that object) with the parts' Checks
// combined. intact is false when the store reports none, or another.
func (s *Store) CompleteStreamed(ctx context.Context, key, uploadID string, parts []blob.Part) (string, bool, error) {
	etag, out, err := s.complete(ctx, key, uploadID, parts, false)
	if err != nil {
		return "", false, err
	}
	var want uint64
	for _, p := range parts {
		crc, ok := parseCRC(p.Check)
		if !ok {
			return etag, false, nil
		}
		want = crc64Combine(want, crc, p.Size)
	}
	got := ""
	if out.ChecksumType == types.ChecksumTypeFullObject {
		got = aws.ToString(out.ChecksumCRC64NVME)
	}
	if got == "" {
		head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
			Bucket: &s.bucket, Key: s.key(key), IfMatch: &etag, ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			return etag, false, nil // the object is there: reading it back will tell
		}
		if t := head.ChecksumType; t == "" || t == types.ChecksumTypeFullObject {
			got = aws.ToString(head.ChecksumCRC64NVME)
		}
	}
	return etag, got != "" && got == crcString(want), nil
}

// crcString is a CRC64NVME as S3 writes it: base64 of its 8 big-endian bytes.
func crcString(crc uint64) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, crc))
}

// parseCRC reads a CRC64NVME written by crcString.
func parseCRC(s string) (uint64, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}
