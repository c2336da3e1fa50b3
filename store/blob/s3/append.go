package s3blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/perseus-go/perseus/store/blob"
)

// An appendable on S3 (blob.Appender) is a multipart upload at a key of
// its own (see appendsPrefix), to which each Append adds parts as its
// bytes arrive, and a small state object, the commit point, naming the
// parts committed so far. Bytes a Commit leaves that are too few for a
// part go to a small tail object, which the next Append that writes reads
// back first. CommitAppended completes the upload there and copies the
// object to its key on the server. So bytes go to S3 once, except a tail's
// (at most one part), which goes back and forth once per request that
// ends in it; none is read back to make the object.

var _ blob.Appender = (*Store)(nil)

const (
	// minPartSize is S3's smallest part but the last.
	minPartSize = 5 << 20
	// appendPartMin is the smallest part size of an appendable.
	appendPartMin = 8 << 20
	// maxObjectSize is S3's largest object.
	maxObjectSize = 5 << 40
)

// appendPartSize is the part size of an appendable of size bytes: at least
// 8 MiB, and a whole number of MiB large enough that 10000 parts hold the
// object. It depends on size alone, so every Append of an id agrees.
func appendPartSize(size int64) int64 {
	p := (size + maxParts - 1) / maxParts
	return max(appendPartMin, (p+1<<20-1)&^(1<<20-1))
}

// Append starts writing appendable id's bytes from off, which must be the
// number it holds (0 for a new id), for an object of size bytes in all:
// an id keeps the size it was created with. See blob.Appender.
func (s *Store) Append(ctx context.Context, id string, off, size int64) (blob.AppendWriter, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if size < 0 || size > maxObjectSize {
		return nil, fmt.Errorf("s3: append %s: size %d is not between 0 and %d", id, size, int64(maxObjectSize))
	}
	st, err := s.readState(ctx, id)
	switch {
	case errors.Is(err, blob.ErrNotFound):
		st = appendState{Size: size}
	case err != nil:
		return nil, fmt.Errorf("s3: append %s: %w", id, err)
	case st.Key != "":
		return nil, fmt.Errorf("s3: append %s: committed to %s already", id, st.Key)
	case st.Size != size:
		return nil, fmt.Errorf("s3: append %s: the object is %d bytes, not %d", id, st.Size, size)
	}
	if off != st.N {
		return nil, fmt.Errorf("s3: append %s at %d: it holds %d bytes", id, off, st.N)
	}
	w := &appendWriter{s: s, ctx: ctx, id: id, st: st, part: appendPartSize(size),
		start: st.N, end: st.N, upload: st.UploadID}
	if st.Tail != nil {
		w.start = st.Tail.Offset
	}
	return w, nil
}

// Appended returns how many bytes id holds and the state committed with
// them, or blob.ErrNotFound.
func (s *Store) Appended(ctx context.Context, id string) (int64, []byte, error) {
	if err := checkID(id); err != nil {
		return 0, nil, err
	}
	st, err := s.readState(ctx, id)
	if err != nil {
		return 0, nil, fmt.Errorf("s3: appendable %s: %w", id, err)
	}
	return st.N, st.State, nil
}

// CommitAppended makes id's bytes the object under key: it completes the
// multipart upload of its parts (the tail, if any, copied in as the last
// part), copies the object to key on the server and deletes its own.
// Without parts, the tail itself is copied, or an empty object put. A
// CommitAppended of an id committed to key already only replaces its
// state; to another key, it fails. An unknown id is blob.ErrNotFound.
func (s *Store) CommitAppended(ctx context.Context, id, key string, state []byte) error {
	if err := checkID(id); err != nil {
		return err
	}
	st, err := s.readState(ctx, id)
	if err != nil {
		return fmt.Errorf("s3: commit appendable %s: %w", id, err)
	}
	if st.Key != "" {
		if st.Key != key {
			return fmt.Errorf("s3: commit appendable %s to %s: committed to %s already", id, key, st.Key)
		}
	} else if err := s.makeObject(ctx, id, st, key); err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			// An object or upload of id's own is gone, not id: not ErrNotFound.
			return fmt.Errorf("s3: commit appendable %s to %s: its bytes are gone: %v", id, key, err)
		}
		return fmt.Errorf("s3: commit appendable %s to %s: %w", id, key, err)
	}
	if err := s.writeState(ctx, id, appendState{Size: st.Size, N: st.N, State: state, Key: key}); err != nil {
		return fmt.Errorf("s3: commit appendable %s to %s: %w", id, key, err)
	}
	// Committed: what is left is garbage, which DeleteAppended removes if
	// this fails.
	if st.UploadID != "" {
		s.Delete(ctx, stagingKey(id))
	}
	if st.Tail != nil {
		s.Delete(ctx, st.Tail.key(id))
	}
	return nil
}

// makeObject makes the object under key of the bytes st holds.
func (s *Store) makeObject(ctx context.Context, id string, st appendState, key string) error {
	switch {
	case st.N == 0:
		_, err := s.putObject(ctx, key, nil)
		return err
	case len(st.Parts) == 0:
		if st.Tail == nil {
			return fmt.Errorf("the state names %d bytes but no part nor tail", st.N)
		}
		return s.Copy(ctx, st.Tail.key(id), key)
	}
	parts := st.Parts
	if st.Tail != nil {
		// Only when committed before the object is whole: the last part.
		p, err := s.copyTailPart(ctx, id, st, len(parts)+1)
		if err != nil {
			return err
		}
		parts = append(slices.Clip(parts), p)
	}
	if err := s.completeStaging(ctx, id, st.UploadID, parts); err != nil {
		return err
	}
	return s.Copy(ctx, stagingKey(id), key)
}

// copyTailPart copies id's tail into its multipart upload as part number,
// on the server.
func (s *Store) copyTailPart(ctx context.Context, id string, st appendState, number int) (blob.Part, error) {
	staging, source := stagingKey(id), s.copySource(st.Tail.key(id))
	out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: &s.bucket, Key: s.key(staging), UploadId: &st.UploadID, PartNumber: aws.Int32(int32(number)),
		CopySource: &source,
	})
	if err != nil {
		return blob.Part{}, wrap(fmt.Sprintf("copy tail to part %d of", number), staging, err)
	}
	p := blob.Part{Number: number, Size: st.Tail.Size, SHA256: st.Tail.SHA256}
	if r := out.CopyPartResult; r != nil {
		p.ETag = aws.ToString(r.ETag)
		if sum := aws.ToString(r.ChecksumSHA256); sum != "" && sum != b64hex(st.Tail.SHA256) {
			return blob.Part{}, fmt.Errorf("s3: copy tail to part %d of %s: it has SHA-256 %s, not %s",
				number, staging, sum, b64hex(st.Tail.SHA256))
		}
	}
	return p, nil
}

// completeStaging completes id's multipart upload of parts into its
// staging object. An upload completed already (by a CommitAppended that
// failed after) is done if the object there is the one of parts.
func (s *Store) completeStaging(ctx context.Context, id, uploadID string, parts []blob.Part) error {
	staging := stagingKey(id)
	_, err := s.CompleteMultipart(ctx, staging, uploadID, parts)
	if err == nil || !errors.Is(err, blob.ErrExists) && !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	head, herr := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: &s.bucket, Key: s.key(staging), ChecksumMode: types.ChecksumModeEnabled})
	if herr == nil && completedAs(head, parts) {
		return nil
	}
	if errors.Is(err, blob.ErrExists) && (herr == nil || isNotFound(herr)) {
		// Not the object of parts: one left over, which is none of them.
		if err := s.Delete(ctx, staging); err != nil {
			return err
		}
		_, err = s.CompleteMultipart(ctx, staging, uploadID, parts)
	}
	return err
}

// DeleteAppended aborts id's multipart uploads (a crash may have left
// one its state does not name) and deletes its objects, the state last,
// so that an id whose state is gone has nothing left.
func (s *Store) DeleteAppended(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	staging := stagingKey(id)
	err := s.ListMultipart(ctx, staging, func(u blob.Upload) error {
		if u.Key != staging {
			return nil
		}
		return s.AbortMultipart(ctx, staging, u.ID)
	})
	if err != nil {
		return fmt.Errorf("s3: delete appendable %s: %w", id, err)
	}
	var keys []string
	err = s.List(ctx, appendDir(id)+"~", func(i blob.Info) error {
		if i.Key != stateKey(id) {
			keys = append(keys, i.Key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("s3: delete appendable %s: %w", id, err)
	}
	for _, k := range append(keys, stateKey(id)) {
		if err := s.Delete(ctx, k); err != nil {
			return fmt.Errorf("s3: delete appendable %s: %w", id, err)
		}
	}
	return nil
}

// ListAppended calls fn for every appendable whose id starts with prefix,
// in id order: Key is its id, Size the bytes it holds, ModTime when its
// state was last written. It reads each one's state.
func (s *Store) ListAppended(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	return s.List(ctx, appendsPrefix+prefix, func(i blob.Info) error {
		id, ok := strings.CutSuffix(strings.TrimPrefix(i.Key, appendsPrefix), "/~state")
		if !ok {
			return nil
		}
		st, err := s.readState(ctx, id)
		if errors.Is(err, blob.ErrNotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("s3: list appendables %s: %w", prefix, err)
		}
		return fn(blob.Info{Key: id, Size: st.N, ModTime: i.ModTime})
	})
}

// appendWriter appends to one appendable. It holds at most one part in
// memory: the bytes from the end of the committed parts (the tail's
// first, read back at the first Write) to the last written. A full
// buffer is sent as the next part once a byte beyond it is written, with
// its SHA-256, which S3 checks; Commit sends what is left as a part or a
// tail, then writes the state naming them.
type appendWriter struct {
	s    *Store
	ctx  context.Context // Append's, for the parts sent by Write
	id   string
	st   appendState // as the last Commit left it
	part int64       // part size

	start   int64  // offset of buf[0]: where the parts end
	buf     []byte // bytes from start, at most part
	loaded  bool   // the tail, if any, is in buf
	end     int64  // offset after the last byte written
	upload  string // the multipart upload: st.UploadID, or one w created
	created bool   // w created upload
	parts   []blob.Part
	err     error // sticky: too many bytes, or a part failed
	closed  bool
}

// Write buffers p, sending each full part as the next one arrives. A
// write that would pass the object's size is refused whole, and the
// writer cannot commit after it.
func (w *appendWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("s3: append %s: %w", w.id, errClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	if int64(len(p)) > w.st.Size-w.end {
		w.err = fmt.Errorf("s3: append %s: writing %d bytes at %d would pass the object's size of %d",
			w.id, len(p), w.end, w.st.Size)
		return 0, w.err
	}
	if len(p) > 0 && !w.loaded {
		if err := w.loadTail(w.ctx); err != nil {
			w.err = err
			return 0, err
		}
	}
	n := 0
	for len(p) > 0 {
		if int64(len(w.buf)) == w.part {
			if err := w.flush(w.ctx); err != nil {
				w.err = err
				return n, err
			}
		}
		c := min(int(w.part)-len(w.buf), len(p))
		w.grow(c)
		w.buf = append(w.buf, p[:c]...)
		p, n, w.end = p[c:], n+c, w.end+int64(c)
	}
	return n, nil
}

// grow makes room for c more bytes in w.buf, its capacity never past a
// part: it starts small, so that small appends use little memory.
func (w *appendWriter) grow(c int) {
	if cap(w.buf)-len(w.buf) >= c {
		return
	}
	b := make([]byte, len(w.buf), min(int(w.part), max(2*cap(w.buf), len(w.buf)+c, 64<<10)))
	copy(b, w.buf)
	w.buf = b
}

// loadTail reads the committed tail back into w.buf, checking its SHA-256.
func (w *appendWriter) loadTail(ctx context.Context) error {
	w.loaded = true
	t := w.st.Tail
	if t == nil {
		return nil
	}
	r, err := w.s.Open(ctx, t.key(w.id), 0)
	if err != nil {
		return fmt.Errorf("s3: append %s: read tail: %w", w.id, err)
	}
	defer r.Close()
	w.grow(int(t.Size))
	w.buf = w.buf[:t.Size]
	if _, err := io.ReadFull(r, w.buf); err != nil {
		w.buf = w.buf[:0]
		return fmt.Errorf("s3: append %s: read tail: %w", w.id, err)
	}
	if sum := sha256.Sum256(w.buf); hex.EncodeToString(sum[:]) != t.SHA256 {
		w.buf = w.buf[:0]
		return fmt.Errorf("s3: append %s: the tail read back is not the one written (SHA-256 %x, not %s)", w.id, sum, t.SHA256)
	}
	return nil
}

// flush sends w.buf as the next part, starting the multipart upload first
// if there is none yet. A part sent by an append that does not commit is
// sent again by the next, under the same number.
func (w *appendWriter) flush(ctx context.Context) error {
	num := len(w.st.Parts) + len(w.parts) + 1
	if num > maxParts {
		return fmt.Errorf("s3: append %s: more than %d parts", w.id, maxParts)
	}
	staging := stagingKey(w.id)
	if w.upload == "" {
		id, err := w.s.CreateMultipart(ctx, staging)
		if err != nil {
			return fmt.Errorf("s3: append %s: %w", w.id, err)
		}
		w.upload, w.created = id, true
	}
	sum := sha256.Sum256(w.buf)
	out, err := w.s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &w.s.bucket, Key: w.s.key(staging), UploadId: &w.upload, PartNumber: aws.Int32(int32(num)),
		Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	}, signedWith(sum))
	if err != nil {
		return fmt.Errorf("s3: append %s: %w", w.id, wrap(fmt.Sprintf("upload part %d of", num), staging, err))
	}
	w.parts = append(w.parts, blob.Part{Number: num, Size: int64(len(w.buf)), SHA256: hex.EncodeToString(sum[:]),
		ETag: aws.ToString(out.ETag)})
	w.start += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// Commit sends the bytes buffered: as the last part if the object is now
// whole (or as a tail, if they are the whole object: one object to copy
// at CommitAppended), as a part if they are enough for one, else as a
// tail object; then it writes the state naming them with state, and
// deletes the tail it replaced.
func (w *appendWriter) Commit(ctx context.Context, state []byte) error {
	if w.closed {
		return fmt.Errorf("s3: append %s: %w", w.id, errClosed)
	}
	w.closed = true
	defer func() { w.buf = nil }()
	if w.err != nil {
		return errors.Join(w.err, w.abortUpload())
	}
	next := appendState{Size: w.st.Size, N: w.end, UploadID: w.upload,
		Parts: append(slices.Clip(w.st.Parts), w.parts...), Tail: w.st.Tail, State: state}
	if w.loaded {
		next.Tail = nil // in w.buf, if not sent as parts
	}
	if b := int64(len(w.buf)); b > 0 {
		var err error
		switch whole := w.end == w.st.Size; {
		case whole && len(next.Parts) == 0:
			next.Tail, err = w.putTail(ctx)
		case whole || b >= minPartSize && w.partsLeft(len(next.Parts)+1):
			if err = w.flush(ctx); err == nil {
				next.Parts, next.UploadID = append(next.Parts, w.parts[len(w.parts)-1]), w.upload
			}
		default:
			next.Tail, err = w.putTail(ctx)
		}
		if err != nil {
			return errors.Join(err, w.abortUpload())
		}
	}
	if err := w.s.writeState(ctx, w.id, next); err != nil {
		// The state may have been written all the same: an upload w
		// created may be named by it, and is left to DeleteAppended.
		return fmt.Errorf("s3: append %s: %w", w.id, err)
	}
	if old := w.st.Tail; old != nil && (next.Tail == nil || old.key(w.id) != next.Tail.key(w.id)) {
		w.s.Delete(ctx, old.key(w.id)) // garbage if this fails, which DeleteAppended removes
	}
	return nil
}

// partsLeft reports whether, after part number n ending at w.end, the
// rest of the object fits in full parts within S3's 10000: a short part
// (of the bytes one request ended with) may not take a number the rest
// needs.
func (w *appendWriter) partsLeft(n int) bool {
	rest := w.st.Size - w.end
	return (rest+w.part-1)/w.part <= int64(maxParts-n)
}

// putTail stores w.buf as a tail object.
func (w *appendWriter) putTail(ctx context.Context) (*appendTail, error) {
	t := &appendTail{Offset: w.start, Size: int64(len(w.buf))}
	sum, err := w.s.putObject(ctx, t.key(w.id), w.buf)
	if err != nil {
		return nil, fmt.Errorf("s3: append %s: %w", w.id, err)
	}
	t.SHA256 = hex.EncodeToString(sum[:])
	return t, nil
}

// Abort discards the bytes written since Append. Parts sent stay with the
// upload, unnamed by the state, until the next append sends its own under
// their numbers; an upload the writer started is aborted. It is a no-op
// after Commit or a previous Abort.
func (w *appendWriter) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.buf = nil
	return w.abortUpload()
}

// abortUpload aborts the multipart upload w started, which no state names.
func (w *appendWriter) abortUpload() error {
	if !w.created {
		return nil
	}
	w.created = false
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), time.Minute)
	defer cancel()
	return w.s.AbortMultipart(ctx, stagingKey(w.id), w.upload)
}

// b64hex turns a hex SHA-256 into the base64 S3 reports it in.
func b64hex(h string) string {
	b, _ := hex.DecodeString(h)
	return base64.StdEncoding.EncodeToString(b)
}
