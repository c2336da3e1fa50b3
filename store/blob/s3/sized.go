package s3blob

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/crc64nvme"

	"github.com/perseus-go/perseus/store/blob"
)

var _ blob.SizedCreator = (*Store)(nil)

// maxSized is S3's limit on the object of one PutObject.
const maxSized = 5 << 30

// sizedURLTTL is how long the URL of a sized PUT stays valid. The server
// checks it when the request arrives, which may be as late as the first
// bytes written, so it is generous; the URL never leaves this process.
const sizedURLTTL = 24 * time.Hour

// MaxSized is the largest object CreateSized takes: 5 GiB, S3's limit on
// one PutObject.
func (s *Store) MaxSized() int64 { return maxSized }

// CreateSized starts writing exactly size bytes to key in one PutObject,
// streamed as they are written; see blob.SizedCreator. The request goes to
// a presigned URL (UNSIGNED-PAYLOAD, so that an unseekable body can be sent
// over plain http too), through the SDK's HTTP client. Commit checks the
// stored object's size and CRC64NVME against the bytes written.
func (s *Store) CreateSized(ctx context.Context, key string, size int64) (blob.Writer, error) {
	if size < 0 || size > maxSized {
		return nil, fmt.Errorf("s3: put %s: size %d is not between 0 and %d", key, size, int64(maxSized))
	}
	psr, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: s.key(key), ContentLength: aws.Int64(size)}, s3.WithPresignExpires(sizedURLTTL))
	if err != nil {
		return nil, fmt.Errorf("s3: presign put %s: %w", key, err)
	}
	w, err := s.streamPut(ctx, "put "+key, psr.Method, psr.URL, psr.SignedHeader, size)
	if err != nil {
		return nil, err
	}
	w.key, w.object = key, true
	return w, nil
}

// check confirms that the object under the key is the one the PUT stored
// (If-Match its ETag) and holds the bytes written: their size, and their
// CRC64NVME as the store reports it, or else as read back.
func (w *streamWriter) check(ctx context.Context) error {
	in := &s3.HeadObjectInput{Bucket: &w.s.bucket, Key: w.s.key(w.key), ChecksumMode: types.ChecksumModeEnabled}
	if w.etag != "" {
		in.IfMatch = &w.etag
	}
	head, err := w.s.client.HeadObject(ctx, in)
	if err != nil {
		return wrap("put", w.key+": head", err)
	}
	want := crcString(w.crc)
	got := aws.ToString(head.ChecksumCRC64NVME)
	if t := head.ChecksumType; got == "" || (t != "" && t != types.ChecksumTypeFullObject) {
		if got, err = w.readBack(ctx); err != nil {
			return err
		}
	}
	if size := aws.ToInt64(head.ContentLength); size != w.size || got != want {
		return fmt.Errorf("s3: put %s: the store holds other bytes than were sent: %d bytes with CRC64NVME %s, sent %d with %s",
			w.key, size, got, w.size, want)
	}
	return nil
}

// readBack returns the base64 CRC64NVME of the object as stored, reading
// it all. It is much slower than asking for the stored checksum and serves
// only stores that keep no CRC64NVME of a plain PutObject.
func (w *streamWriter) readBack(ctx context.Context) (string, error) {
	in := &s3.GetObjectInput{Bucket: &w.s.bucket, Key: w.s.key(w.key)}
	if w.etag != "" {
		in.IfMatch = &w.etag
	}
	out, err := w.s.client.GetObject(ctx, in)
	if err != nil {
		return "", wrap("put", w.key+": read back", err)
	}
	defer out.Body.Close()
	h := crc64nvme.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		return "", fmt.Errorf("s3: put %s: read back: %w", w.key, err)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}
