package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// maxParts is S3's limit on the parts of one multipart upload.
const maxParts = 10000

// errClosed is returned by a writer used after Commit or Abort.
var errClosed = errors.New("writer already committed or aborted")

// writer buffers up to one part in memory. An object that fits in one part is
// sent with a single PutObject on Commit; a larger one becomes a multipart
// upload whose parts are sent in the background, at most s.concurrency part
// buffers existing at once, so memory stays bounded whatever the size.
type writer struct {
	s      *Store
	key    string
	ctx    context.Context // for background part uploads; cancelled by Abort
	cancel context.CancelFunc

	buf    []byte      // part being filled, or nil
	free   chan []byte // buffer tokens: take one to fill, uploads give it back
	upload string      // multipart upload ID, once started
	nparts int32       // parts handed to uploads so far
	closed bool        // Commit or Abort was called
	wg     sync.WaitGroup

	mu    sync.Mutex
	parts []types.CompletedPart
	err   error // first background upload error
}

func newWriter(ctx context.Context, s *Store, key string) *writer {
	ctx, cancel := context.WithCancel(ctx)
	w := &writer{s: s, key: key, ctx: ctx, cancel: cancel, free: make(chan []byte, s.concurrency)}
	for range s.concurrency {
		w.free <- nil
	}
	return w
}

// partSize is the size of part n (1-based): it doubles every 2000 parts so
// that the 10000-part limit allows objects of about 62000 first-part sizes
// (496 GB at 8 MiB) while ordinary objects use small buffers.
func (w *writer) partSize(n int32) int {
	return int(w.s.partSize) << ((n - 1) / 2000)
}

func (w *writer) bgErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Write copies p into part buffers, starting uploads as they fill.
func (w *writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("s3: put %s: %w", w.key, errClosed)
	}
	n := 0
	for len(p) > 0 {
		if err := w.bgErr(); err != nil {
			return n, err
		}
		if w.buf == nil {
			select {
			case w.buf = <-w.free:
				w.buf = w.buf[:0]
			case <-w.ctx.Done():
				return n, fmt.Errorf("s3: put %s: %w", w.key, w.ctx.Err())
			}
		}
		limit := w.partSize(w.nparts + 1)
		if len(w.buf) >= limit {
			// Full, and there is more: this cannot be the only part.
			if err := w.flush(); err != nil {
				return n, err
			}
			continue
		}
		// append grows the first buffer gradually, so small objects stay small.
		c := min(limit-len(w.buf), len(p))
		w.buf = append(w.buf, p[:c]...)
		p, n = p[c:], n+c
	}
	return n, nil
}

// flush hands the current buffer to a background UploadPart, starting the
// multipart upload first if need be.
func (w *writer) flush() error {
	if w.nparts == maxParts {
		return fmt.Errorf("s3: put %s: object exceeds %d parts", w.key, maxParts)
	}
	if w.upload == "" {
		out, err := w.s.client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{
			Bucket: &w.s.bucket, Key: w.s.key(w.key)})
		if err != nil {
			return wrap("create multipart upload", w.key, err)
		}
		w.upload = aws.ToString(out.UploadId)
	}
	w.nparts++
	num, buf := w.nparts, w.buf
	w.buf = nil
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { w.free <- buf[:0] }()
		out, err := w.s.client.UploadPart(w.ctx, &s3.UploadPartInput{
			Bucket: &w.s.bucket, Key: w.s.key(w.key), UploadId: &w.upload,
			PartNumber: aws.Int32(num), Body: bytes.NewReader(buf), ContentLength: aws.Int64(int64(len(buf))),
		})
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if w.err == nil {
				w.err = wrap(fmt.Sprintf("upload part %d of", num), w.key, err)
				w.cancel()
			}
			return
		}
		w.parts = append(w.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
	}()
	return nil
}

// Commit makes the bytes written visible under the key. On failure the
// upload is aborted and nothing is visible.
func (w *writer) Commit(ctx context.Context) error {
	if w.closed {
		return fmt.Errorf("s3: put %s: %w", w.key, errClosed)
	}
	w.closed = true
	if w.upload == "" {
		defer w.cancel()
		_, err := w.s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &w.s.bucket, Key: w.s.key(w.key),
			Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
		})
		w.buf = nil
		if err != nil {
			return wrap("put", w.key, err)
		}
		return nil
	}
	var err error
	if len(w.buf) > 0 {
		err = w.flush()
	}
	w.wg.Wait()
	if err == nil {
		err = w.bgErr()
	}
	if err == nil {
		sort.Slice(w.parts, func(i, j int) bool { return *w.parts[i].PartNumber < *w.parts[j].PartNumber })
		_, err = w.s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: &w.s.bucket, Key: w.s.key(w.key), UploadId: &w.upload,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
		})
		if err != nil {
			err = wrap("complete multipart upload", w.key, err)
		}
	}
	if err != nil {
		return errors.Join(err, w.abortUpload())
	}
	w.cancel()
	return nil
}

// Abort discards the bytes written and aborts any multipart upload started.
// It is a no-op after Commit or a previous Abort.
func (w *writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.buf = nil
	return w.abortUpload()
}

func (w *writer) abortUpload() error {
	w.cancel()
	w.wg.Wait()
	if w.upload == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), time.Minute)
	defer cancel()
	_, err := w.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &w.s.bucket, Key: w.s.key(w.key), UploadId: &w.upload})
	if err != nil && !isNotFound(err) {
		return wrap("abort multipart upload", w.key, err)
	}
	return nil
}
