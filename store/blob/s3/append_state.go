package s3blob

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/perseus-go/perseus/store/blob"
)

// The appendables (blob.Appender) live under a folder of the store's own,
// one folder per id, whose objects are named with a "~", a character no
// key segment has: no object key is ever among them, nor is an id's
// folder among another's objects, whether ids nest or not (a posix-backed
// server such as versitygw cannot have a file and a folder of one name).
//
//	~appends/<id>/~state                  the commit point: appendState as JSON, written last
//	~appends/<id>/~object                 the key of the multipart upload of the parts; once
//	                                      CommitAppended has completed it, the whole object,
//	                                      copied from there to its key
//	~appends/<id>/~tail-<offset>-<end>    bytes after the parts too few for a part of their own
const appendsPrefix = "~appends/"

func appendDir(id string) string  { return appendsPrefix + id + "/" }
func stateKey(id string) string   { return appendDir(id) + "~state" }
func stagingKey(id string) string { return appendDir(id) + "~object" }
func (t *appendTail) key(id string) string {
	return appendDir(id) + "~tail-" + strconv.FormatInt(t.Offset, 10) + "-" + strconv.FormatInt(t.Offset+t.Size, 10)
}

// maxStateSize bounds the state object read back: 10000 parts of about
// 200 bytes of JSON each, and the caller's state.
const maxStateSize = 16 << 20

// appendState is what an appendable holds, as its last Commit left it.
// Its bytes are Parts, in number order from 1 with no gap, then Tail.
type appendState struct {
	Size     int64       `json:"size"`                // the whole object's, as Append was told
	N        int64       `json:"n"`                   // bytes held
	UploadID string      `json:"upload_id,omitempty"` // the multipart upload at ~object, once a part was sent
	Parts    []blob.Part `json:"parts,omitempty"`
	Tail     *appendTail `json:"tail,omitempty"`
	State    []byte      `json:"state"`         // the caller's
	Key      string      `json:"key,omitempty"` // set by CommitAppended: the object made of the bytes, now gone from here
}

// appendTail is the object holding the bytes after the parts.
type appendTail struct {
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// readState returns id's state, or blob.ErrNotFound.
func (s *Store) readState(ctx context.Context, id string) (appendState, error) {
	var st appendState
	r, err := s.Open(ctx, stateKey(id), 0)
	if err != nil {
		return st, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxStateSize+1))
	if err != nil {
		return st, fmt.Errorf("s3: read state of appendable %s: %w", id, err)
	}
	if len(b) > maxStateSize {
		return st, fmt.Errorf("s3: state of appendable %s: more than %d bytes", id, maxStateSize)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("s3: state of appendable %s: %w", id, err)
	}
	return st, nil
}

// writeState makes st id's state: the commit point of every change.
func (s *Store) writeState(ctx context.Context, id string, st appendState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("s3: state of appendable %s: %w", id, err)
	}
	_, err = s.putObject(ctx, stateKey(id), b)
	return err
}

// putObject stores b under key in one PutObject that S3 checks against
// b's SHA-256, and returns that SHA-256.
func (s *Store) putObject(ctx context.Context, key string, b []byte) ([32]byte, error) {
	sum := sha256.Sum256(b)
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: s.key(key), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	}, signedWith(sum))
	if err != nil {
		return sum, wrap("put", key, err)
	}
	return sum, nil
}

// signedWith gives the SDK the SHA-256 of a request's body, known already,
// for its signature (x-amz-content-sha256), so that it does not read and
// hash the body a second time.
func signedWith(sum [32]byte) func(*s3.Options) {
	h := hex.EncodeToString(sum[:])
	return s3.WithAPIOptions(func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("perseusPayloadHash",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				return next.HandleFinalize(v4.SetPayloadHash(ctx, h), in)
			}), middleware.Before)
	})
}

// completedAs reports whether head describes the object that completing
// a multipart upload of parts makes: its size, and its composite SHA-256
// (the SHA-256 of the parts' SHA-256s, then "-" and their number) or,
// from a store that reports none, its ETag (the MD5 of the parts' MD5
// ETags, then "-" and their number), as S3 computes both.
func completedAs(head *s3.HeadObjectOutput, parts []blob.Part) bool {
	var size int64
	sums, md5s := sha256.New(), md5.New()
	for _, p := range parts {
		size += p.Size
		sum, err := hex.DecodeString(p.SHA256)
		if err != nil {
			return false
		}
		sums.Write(sum)
		tag, err := hex.DecodeString(unquote(p.ETag))
		if err != nil {
			return false
		}
		md5s.Write(tag)
	}
	if aws.ToInt64(head.ContentLength) != size {
		return false
	}
	n := "-" + strconv.Itoa(len(parts))
	if got := aws.ToString(head.ChecksumSHA256); got != "" {
		return got == base64.StdEncoding.EncodeToString(sums.Sum(nil))+n
	}
	return unquote(aws.ToString(head.ETag)) == hex.EncodeToString(md5s.Sum(nil))+n
}

func unquote(etag string) string {
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}

// checkID refuses an id that is not made of [a-zA-Z0-9._-] segments, as
// keys are (and "." and ".." are no segments): a "~" in one could name
// another id's objects.
func checkID(id string) error {
	seg := 0
	for i := 0; i <= len(id); i++ {
		if i == len(id) || id[i] == '/' {
			if s := id[seg:i]; s == "" || s == "." || s == ".." {
				return fmt.Errorf("s3: appendable id %q is not made of [a-zA-Z0-9._-] segments", id)
			}
			seg = i + 1
			continue
		}
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("s3: appendable id %q is not made of [a-zA-Z0-9._-] segments", id)
		}
	}
	return nil
}
