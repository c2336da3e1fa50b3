package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/blob/blobtest"
)

// testURL returns PERSEUS_TEST_S3_URL, skipping the test if it is unset
// (failing it in CI, where a skip would hide that nothing was tested).
func testURL(t *testing.T) string {
	t.Helper()
	return testenv.Require(t, "PERSEUS_TEST_S3_URL")
}

// openTest opens the bucket named by PERSEUS_TEST_S3_URL under a prefix no
// other test uses, and deletes what the test left there when it ends.
func openTest(t *testing.T) *Store {
	t.Helper()
	u, err := url.Parse(testURL(t))
	if err != nil {
		t.Fatalf("PERSEUS_TEST_S3_URL: %v", err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	name := regexp.MustCompile(`[^a-zA-Z0-9._-]+`).ReplaceAllString(t.Name(), "_")
	q := u.Query()
	q.Set("prefix", strings.Trim(q.Get("prefix")+"/perseus-test/"+name+"-"+hex.EncodeToString(rnd[:]), "/"))
	u.RawQuery = q.Encode()
	s, err := Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		s.List(ctx, "", func(i blob.Info) error { return s.Delete(ctx, i.Key) })
	})
	return s
}

func TestConformance(t *testing.T) {
	testURL(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return openTest(t) })
}

func TestParseURL(t *testing.T) {
	loc, err := parseURL("s3://b?endpoint=http://127.0.0.1:9000&region=eu-west-1&prefix=/a/b/")
	want := location{bucket: "b", prefix: "a/b/", endpoint: "http://127.0.0.1:9000", region: "eu-west-1", pathStyle: true}
	if err != nil || loc != want {
		t.Fatalf("parseURL = %+v, %v; want %+v", loc, err, want)
	}
	loc, err = parseURL("s3://my.bucket?endpoint=https://s3.example.com&path_style=false")
	if err != nil || loc.pathStyle || loc.prefix != "" {
		t.Fatalf("parseURL with path_style=false = %+v, %v", loc, err)
	}
	if loc, err = parseURL("s3://b"); err != nil || loc.pathStyle || loc.endpoint != "" {
		t.Fatalf("parseURL(s3://b) = %+v, %v", loc, err)
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"", "scheme"},
		{"http://bucket", "scheme"},
		{"s3://", "BUCKET"},
		{"s3:///key", "BUCKET"},
		{"s3://b:9000", "BUCKET"},
		{"s3://user@b", "BUCKET"},
		{"s3://b/some/path", "prefix"},
		{"s3://b?endpoint=127.0.0.1:9000", "endpoint"},
		{"s3://b?endpoint=ftp://host", "endpoint"},
		{"s3://b?endpoint=http://", "endpoint"},
		{"s3://b?endpoint=http://%25zz", "endpoint"},
		{"s3://b?endpoint=http://%zz", "bad URL"},
		{"s3://b?path_style=maybe", "path_style"},
		{"s3://b?regoin=us-east-1", "unknown parameter"},
		{"s3://b\x7f", "bad URL"},
	} {
		_, err := Open(context.Background(), tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) err = %v, want one mentioning %q", tc.url, err, tc.want)
		}
	}
}

func TestPresignedURLsNeedNoHeaders(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	put, err := s.PresignPut(ctx, "p/obj", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if signed := mustParse(t, put).Query().Get("X-Amz-SignedHeaders"); signed != "host" {
		t.Errorf("presigned PUT signs %q, want only host", signed)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	req, _ := http.NewRequest(http.MethodPut, put, strings.NewReader("plain body"))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("plain PUT: %s: %s", resp.Status, body)
	}
	// presignedGet fetches the object by a presigned GET named attachment.
	presignedGet := func(attachment string) (*http.Response, []byte) {
		t.Helper()
		get, err := s.PresignGet(ctx, "p/obj", time.Minute, attachment)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get(get)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, body
	}
	resp, body = presignedGet("")
	if resp.StatusCode != http.StatusOK || string(body) != "plain body" {
		t.Fatalf("presigned GET: %s %q", resp.Status, body)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		t.Errorf("presigned GET without an attachment name: Content-Disposition %q", cd)
	}

	// Named as an attachment: the store says so, under that name.
	resp, body = presignedGet("r\u00e9port \"1\".txt")
	_, params, perr := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if resp.StatusCode != http.StatusOK || string(body) != "plain body" || perr != nil || params["filename"] != "r\u00e9port \"1\".txt" {
		t.Fatalf("presigned GET as an attachment: %s %q, Content-Disposition %q", resp.Status, body, resp.Header.Get("Content-Disposition"))
	}
}

func TestMultipartCopy(t *testing.T) {
	s := openTest(t)
	s.copyLimit, s.copyPartSize = 1, 5<<20 // force UploadPartCopy, 3 parts
	ctx := context.Background()
	data := make([]byte, 11<<20+7)
	rand.Read(data)
	w, _ := s.Create(ctx, "c/src")
	w.Write(data)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Copy(ctx, "c/src", "c/dst"); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "c/dst", 5<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data[5<<20:]) {
		t.Fatalf("multipart copy read back differs (%d bytes, %v)", len(got), err)
	}
	if err := s.Copy(ctx, "c/none", "c/x"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Copy of missing key err = %v, want ErrNotFound", err)
	}
}

func TestAbortAbortsMultipartUpload(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	w, _ := s.Create(ctx, "a/big")
	if _, err := w.Write(make([]byte, 2*s.partSize+1)); err != nil {
		t.Fatal(err)
	}
	if w.(*writer).upload == "" {
		t.Fatal("writing more than a part did not start a multipart upload")
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	out, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: s.key("a/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left after Abort", len(out.Uploads))
	}
	if _, err := s.Stat(ctx, "a/big"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after Abort err = %v", err)
	}
}

func TestOpenAtEnd(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	w, _ := s.Create(ctx, "e/x")
	w.Write([]byte("abc"))
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "e/x", 3)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); len(b) != 0 {
		t.Fatalf("read at end = %q", b)
	}
	r.Close()
	if _, err := s.Open(ctx, "e/x", 4); err == nil || errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open past end err = %v, want a range error", err)
	}
	if _, err := s.Open(ctx, "e/none", 4); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open of missing key at offset err = %v, want ErrNotFound", err)
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
