package s3blob

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Copy copies src to dst inside the bucket without the bytes passing through
// this process: one CopyObject up to 5 GiB, a multipart UploadPartCopy above.
func (s *Store) Copy(ctx context.Context, src, dst string) error {
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: s.key(src)})
	if err != nil {
		return wrap("copy", src+" to "+dst+": head", err)
	}
	source := s.copySource(src)
	size := aws.ToInt64(head.ContentLength)
	if size <= s.copyLimit {
		_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: &s.bucket, Key: s.key(dst), CopySource: &source})
		if err != nil {
			return wrap("copy", src+" to "+dst, err)
		}
		return nil
	}
	return s.copyMultipart(ctx, source, size, src, dst)
}

// copySource is the CopySource of a copy from key.
func (s *Store) copySource(key string) string {
	return (&url.URL{Path: s.bucket + "/" + s.prefix + key}).EscapedPath()
}

// copyMultipart copies size bytes from source to dst with UploadPartCopy,
// s.concurrency parts at a time.
func (s *Store) copyMultipart(ctx context.Context, source string, size int64, src, dst string) error {
	what := src + " to " + dst
	partSize := max(s.copyPartSize, (size+maxParts-1)/maxParts)
	nparts := int((size + partSize - 1) / partSize)
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: s.key(dst)})
	if err != nil {
		return wrap("copy", what+": create multipart upload", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		parts    = make([]types.CompletedPart, nparts)
		sem      = make(chan struct{}, s.concurrency)
	)
	for i := range nparts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			first := int64(i) * partSize
			last := min(first+partSize, size) - 1
			out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket: &s.bucket, Key: s.key(dst), UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)),
				CopySource: &source, CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", first, last)),
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = wrap("copy", fmt.Sprintf("%s: part %d", what, i+1), err)
					cancel()
				}
				return
			}
			parts[i] = types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(int32(i + 1))}
		})
	}
	wg.Wait()
	err = firstErr
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("s3: copy %s: %w", what, ctx.Err())
	}
	if err == nil {
		_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: &s.bucket, Key: s.key(dst), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		if err == nil {
			return nil
		}
		err = wrap("copy", what+": complete multipart upload", err)
	}
	actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer acancel()
	if _, aerr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: &s.bucket, Key: s.key(dst), UploadId: up.UploadId}); aerr != nil {
		err = errors.Join(err, wrap("copy", what+": abort multipart upload", aerr))
	}
	return err
}
