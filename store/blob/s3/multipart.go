package s3blob

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/perseus-go/perseus/store/blob"
)

var _ blob.Multiparter = (*Store)(nil)

// CreateMultipart starts a multipart upload to key whose parts carry SHA-256
// checksums: S3 refuses a part whose bytes do not match the checksum signed
// into its URL, and ListParts reports each part's checksum.
func (s *Store) CreateMultipart(ctx context.Context, key string) (string, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: s.key(key), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		return "", wrap("create multipart upload", key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// PresignPart returns a URL for one UploadPart of p.Size bytes hashing to
// p.SHA256. Content-Length and x-amz-checksum-sha256 are signed, so S3 takes
// nothing else under that URL; the returned header holds the checksum the
// client must send.
func (s *Store) PresignPart(ctx context.Context, key, uploadID string, p blob.Part, ttl time.Duration) (string, map[string]string, error) {
	sum, err := hex.DecodeString(p.SHA256)
	if err != nil || len(sum) != 32 {
		return "", nil, fmt.Errorf("s3: presign part %d of %s: SHA256 %q is not 64 hex characters", p.Number, key, p.SHA256)
	}
	req, err := s.presign.PresignUploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.bucket, Key: s.key(key), UploadId: &uploadID, PartNumber: aws.Int32(int32(p.Number)),
		ContentLength: aws.Int64(p.Size), ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum)),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", nil, fmt.Errorf("s3: presign part %d of %s: %w", p.Number, key, err)
	}
	header := map[string]string{}
	for k, v := range req.SignedHeader {
		if k == "Host" || k == "Content-Length" || len(v) == 0 {
			continue // the HTTP client sets both from the request itself
		}
		header[strings.ToLower(k)] = v[0]
	}
	return req.URL, header, nil
}

// ListParts returns the parts uploaded so far, with their SHA-256 checksums.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]blob.Part, error) {
	var parts []blob.Part
	p := s3.NewListPartsPaginator(s.client, &s3.ListPartsInput{Bucket: &s.bucket, Key: s.key(key), UploadId: &uploadID})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if isNoSuchUpload(err) {
				return nil, fmt.Errorf("s3: list parts of %s: %w", key, blob.ErrNotFound)
			}
			return nil, wrap("list parts of", key, err)
		}
		for _, pt := range page.Parts {
			bp := blob.Part{Number: int(aws.ToInt32(pt.PartNumber)), Size: aws.ToInt64(pt.Size), ETag: aws.ToString(pt.ETag)}
			if sum, err := base64.StdEncoding.DecodeString(aws.ToString(pt.ChecksumSHA256)); err == nil && len(sum) == 32 {
				bp.SHA256 = hex.EncodeToString(sum)
			}
			parts = append(parts, bp)
		}
	}
	return parts, nil
}

// CompleteMultipart makes the listed parts the object under key, only if
// no object is there (If-None-Match: *): S3 answers 412 otherwise, and the
// upload stays as it was.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []blob.Part) (string, error) {
	etag, _, err := s.complete(ctx, key, uploadID, parts, true)
	return etag, err
}

// complete is CompleteMultipart, returning S3's answer too; withSHA256
// names each part's SHA-256 checksum, which an upload of CreateMultipart
// keeps and one of CreateStreamed does not (its parts' SHA256 is the
// caller's chaining value, not theirs).
func (s *Store) complete(ctx context.Context, key, uploadID string, parts []blob.Part, withSHA256 bool) (string, *s3.CompleteMultipartUploadOutput, error) {
	done := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		done[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.ETag)}
		if sum, err := hex.DecodeString(p.SHA256); err == nil && len(sum) == 32 && withSHA256 {
			done[i].ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(sum))
		}
	}
	out, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: s.key(key), UploadId: &uploadID, IfNoneMatch: aws.String("*"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	switch {
	case isNoSuchUpload(err):
		return "", nil, fmt.Errorf("s3: complete multipart upload %s: %w", key, blob.ErrNotFound)
	case isPreconditionFailed(err):
		return "", nil, fmt.Errorf("s3: complete multipart upload %s: %w", key, blob.ErrExists)
	case err != nil:
		return "", nil, wrap("complete multipart upload", key, err)
	}
	return aws.ToString(out.ETag), out, nil
}

// DeleteIf removes key only while its ETag is etag (If-Match).
func (s *Store) DeleteIf(ctx context.Context, key, etag string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: s.key(key), IfMatch: &etag})
	if err != nil && !isNotFound(err) && !isPreconditionFailed(err) {
		return wrap("delete", key, err)
	}
	return nil
}

// AbortMultipart discards the upload and its parts.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &s.bucket, Key: s.key(key), UploadId: &uploadID})
	if err != nil && !isNoSuchUpload(err) && !isNotFound(err) {
		return wrap("abort multipart upload", key, err)
	}
	return nil
}

// ListMultipart calls fn for every unfinished upload under prefix, in key order.
func (s *Store) ListMultipart(ctx context.Context, prefix string, fn func(blob.Upload) error) error {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: s.key(prefix)}
	for {
		out, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return fmt.Errorf("s3: list multipart uploads %s: %w", prefix, err)
		}
		for _, u := range out.Uploads {
			k, ok := strings.CutPrefix(aws.ToString(u.Key), s.prefix)
			if !ok {
				continue
			}
			if err := fn(blob.Upload{Key: k, ID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)}); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) || (out.NextKeyMarker == nil && out.NextUploadIdMarker == nil) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// isPreconditionFailed reports whether err is S3's 412 to a conditional request.
func isPreconditionFailed(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed
}

// isNoSuchUpload reports whether err says the multipart upload does not exist.
func isNoSuchUpload(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload"
}
