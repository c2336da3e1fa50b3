// Package s3blob is a blob.Store backed by an S3-compatible object store (AWS S3, MinIO, Ceph, versitygw).
package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/perseus-go/perseus/store/blob"
)

// Store is a blob.Store, blob.Presigner and blob.Copier over one S3 bucket,
// optionally namespaced under a key prefix; also a blob.Multiparter,
// blob.SizedCreator and blob.Appender, whose appendables it keeps under
// "~appends/" in that prefix. It is safe for concurrent use.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	prefix  string // "" or ends in "/"

	partSize     int64 // first multipart upload part size; grows for huge objects
	concurrency  int   // part buffers per writer, filling one included
	copyLimit    int64 // largest object copied with a single CopyObject
	copyPartSize int64 // smallest part of a multipart copy
}

var (
	_ blob.Store         = (*Store)(nil)
	_ blob.Presigner     = (*Store)(nil)
	_ blob.Copier        = (*Store)(nil)
	_ blob.PresignGetter = (*Store)(nil)
	_ blob.Locator       = (*Store)(nil)
)

// location is what an s3:// URL names.
type location struct {
	bucket    string
	prefix    string
	endpoint  string
	region    string
	pathStyle bool
}

// parseURL parses s3://BUCKET?endpoint=URL&region=R&prefix=P&path_style=BOOL.
func parseURL(rawURL string) (location, error) {
	var loc location
	u, err := url.Parse(rawURL)
	if err != nil {
		return loc, fmt.Errorf("s3: bad URL: %w", err)
	}
	if u.Scheme != "s3" {
		return loc, fmt.Errorf("s3: bad URL %q: scheme must be s3://", rawURL)
	}
	if u.Host == "" || u.User != nil || u.Port() != "" {
		return loc, fmt.Errorf("s3: bad URL %q: want s3://BUCKET?endpoint=...&region=...", rawURL)
	}
	if u.Path != "" && u.Path != "/" {
		return loc, fmt.Errorf("s3: bad URL %q: use ?prefix= instead of a path", rawURL)
	}
	loc.bucket = u.Host
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return loc, fmt.Errorf("s3: bad URL %q: %w", rawURL, err)
	}
	for k := range q {
		switch k {
		case "endpoint", "region", "prefix", "path_style":
		default:
			return loc, fmt.Errorf("s3: bad URL %q: unknown parameter %q", rawURL, k)
		}
	}
	loc.region = q.Get("region")
	if p := strings.Trim(q.Get("prefix"), "/"); p != "" {
		loc.prefix = p + "/"
	}
	if ep := q.Get("endpoint"); ep != "" {
		e, err := url.Parse(ep)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return loc, fmt.Errorf("s3: bad URL %q: endpoint %q is not an http(s)://HOST[:PORT] URL", rawURL, ep)
		}
		loc.endpoint = ep
		loc.pathStyle = true
	}
	if ps := q.Get("path_style"); ps != "" {
		b, err := strconv.ParseBool(ps)
		if err != nil {
			return loc, fmt.Errorf("s3: bad URL %q: path_style=%q is not true or false", rawURL, ps)
		}
		loc.pathStyle = b
	}
	return loc, nil
}

// Open returns a store for s3://BUCKET?endpoint=http://HOST:PORT&region=REGION.
// Optional parameters: prefix=some/prefix keeps all keys under that prefix,
// and path_style=true|false picks the addressing (default: path-style when an
// endpoint is given, virtual-hosted otherwise). Credentials, and the region if
// none is given, come from the standard AWS environment and config files; the
// region falls back to us-east-1. Open does not contact the server: see Ping.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	loc, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS config: %w", err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if loc.region != "" {
			o.Region = loc.region
		}
		if o.Region == "" {
			o.Region = "us-east-1"
		}
		if loc.endpoint != "" {
			o.BaseEndpoint = aws.String(loc.endpoint)
		}
		o.UsePathStyle = loc.pathStyle
		// Since v1.73 the SDK adds CRC checksums to every upload by default;
		// presigned URLs would then demand checksum headers from clients, and
		// some S3-compatible servers reject or mishandle them.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{
		client:       client,
		presign:      s3.NewPresignClient(client),
		bucket:       loc.bucket,
		prefix:       loc.prefix,
		partSize:     8 << 20,
		concurrency:  4,
		copyLimit:    5 << 30,
		copyPartSize: 512 << 20,
	}, nil
}

func (s *Store) key(k string) *string { return aws.String(s.prefix + k) }

// KeyOf returns the store's key of object in bucket, as an S3 event
// notification names it (its key decoded): the object's key without the
// store's prefix, if the bucket is the store's and the key within its
// prefix.
func (s *Store) KeyOf(bucket, object string) (string, bool) {
	if bucket != s.bucket {
		return "", false
	}
	k, ok := strings.CutPrefix(object, s.prefix)
	if !ok || k == "" {
		return "", false
	}
	return k, true
}

// isNotFound reports whether err says the key (or, for HEAD, the object) does
// not exist.
func isNotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound &&
		(ae == nil || ae.ErrorCode() != "NoSuchBucket")
}

// wrap adds context to err and maps missing keys to blob.ErrNotFound.
func wrap(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("s3: %s %s: %w", op, key, blob.ErrNotFound)
	}
	return fmt.Errorf("s3: %s %s: %w", op, key, err)
}

// Create starts a multipart-capable writer for key; see blob.Writer.
func (s *Store) Create(ctx context.Context, key string) (blob.Writer, error) {
	return newWriter(ctx, s, key), nil
}

// Open reads key from offset to its end, with a ranged GET when offset > 0.
func (s *Store) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("s3: get %s: negative offset %d", key, offset)
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: s.key(key)}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusRequestedRangeNotSatisfiable {
			// Reading from exactly the end is an empty read, not an error.
			info, serr := s.Stat(ctx, key)
			if errors.Is(serr, blob.ErrNotFound) {
				return nil, serr
			}
			if serr == nil && info.Size == offset {
				return io.NopCloser(strings.NewReader("")), nil
			}
		}
		return nil, wrap("get", key, err)
	}
	return out.Body, nil
}

// Stat describes key using HeadObject.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: s.key(key)})
	if err != nil {
		return blob.Info{}, wrap("head", key, err)
	}
	return blob.Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified),
		ETag: aws.ToString(out.ETag)}, nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: s.key(key)})
	if err != nil && !isNotFound(err) {
		return wrap("delete", key, err)
	}
	return nil
}

// List calls fn for every object whose key starts with prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: s.key(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3: list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			k, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
			if !ok {
				continue
			}
			if err := fn(blob.Info{Key: k, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified), ETag: aws.ToString(o.ETag)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Ping checks that the bucket exists and the credentials reach it (HeadBucket).
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		return fmt.Errorf("s3: head bucket %s: %w", s.bucket, err)
	}
	return nil
}

// PresignPut returns a URL that accepts one plain PUT of the raw bytes to key
// until ttl has passed. Only the host is signed: clients need send no headers.
func (s *Store) PresignPut(ctx context.Context, key string, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: s.key(key)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("s3: presign put %s: %w", key, err)
	}
	return req.URL, nil
}

// PresignGet returns a URL that serves one plain GET of key until ttl has
// passed, as an attachment named attachment unless that is empty (the
// signed response-content-disposition parameter).
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration, attachment string) (string, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: s.key(key)}
	if attachment != "" {
		in.ResponseContentDisposition = aws.String(mime.FormatMediaType("attachment", map[string]string{"filename": attachment}))
	}
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("s3: presign get %s: %w", key, err)
	}
	return req.URL, nil
}
