package perseus

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/perseus-go/perseus/internal/sha256chain"
	"golang.org/x/sync/errgroup"
)

// A file goes in parts through a multipart upload, which the server keeps
// per record: start (or resume) it, learning which parts it holds; ask for
// URLs of the parts it lacks (upload_part_urls.go) and PUT each, checked
// against its SHA-256; complete it.

// planParts returns the part size for a file of size bytes, as close to
// want as the limits allow, or 0 when the file goes in one PUT.
func planParts(size, want int64, l Limits) (int64, error) {
	if !l.Multipart || size <= want {
		return 0, nil
	}
	ps := max(want, l.MinPartSize)
	if l.MaxParts > 0 {
		ps = max(ps, (size+int64(l.MaxParts)-1)/int64(l.MaxParts))
	}
	if l.ChainedParts { // parts that start and end on SHA-256 blocks can be chained
		ps = (ps + sha256chain.BlockSize - 1) / sha256chain.BlockSize * sha256chain.BlockSize
	}
	if l.MaxPartSize > 0 && ps > l.MaxPartSize {
		if (size+l.MaxPartSize-1)/l.MaxPartSize > int64(l.MaxParts) {
			return 0, fmt.Errorf("%d bytes do not fit in %d parts of at most %d bytes", size, l.MaxParts, l.MaxPartSize)
		}
		ps = l.MaxPartSize
	}
	if size <= ps {
		return 0, nil
	}
	return ps, nil
}

// uploadParts sends the file in parts: it starts (or resumes) the file's
// multipart upload, sends the parts the server does not hold with the right
// SHA-256, and completes it.
func (s *FileService) uploadParts(ctx context.Context, path string, rec *File, d digest, cfg uploadConfig, tr *tracker) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	base := "/api/v0/file/" + url.PathEscape(rec.ID) + "/multipart"
	for round := 1; ; round++ {
		var up multipartUpload
		if err := s.client.call(ctx, http.MethodPost, base, map[string]int64{"size": d.size, "partSize": d.partSize}, &up); err != nil {
			return nil, err
		}
		if up.PartCount != len(d.parts) || up.PartSize != d.partSize || up.Size != d.size || up.UploadID == "" {
			return nil, fmt.Errorf("perseus: the server answered a multipart upload of %d bytes in %d parts of %d; asked for %d in %d of %d",
				up.Size, up.PartCount, up.PartSize, d.size, len(d.parts), d.partSize)
		}
		if d.from != nil && up.ChainedParts != nil && !*up.ChainedParts {
			// Begun by a replica whose store takes no chained parts: each
			// part goes by its own SHA-256, which takes a second read.
			hd, err := hashParts(ctx, path, d.partSize)
			if err != nil {
				return nil, err
			}
			if hd.hash != d.hash || hd.size != d.size {
				return nil, fmt.Errorf("perseus: %s changed while being uploaded", path)
			}
			d = hd
		}
		// Parts already stored count only if they hold this file's bytes.
		held, heldBytes := map[int]bool{}, int64(0)
		for _, p := range up.Parts {
			if p.PartNumber >= 1 && p.PartNumber <= len(d.parts) && !held[p.PartNumber] &&
				d.ref(p.PartNumber) == (partRef{p.PartNumber, p.SHA256, p.From}) && p.Size == d.partLen(p.PartNumber) {
				held[p.PartNumber] = true
				heldBytes += p.Size
			}
		}
		tr.add(heldBytes - tr.sent.Load())
		var todo []int
		for n := 1; n <= len(d.parts); n++ {
			if !held[n] {
				todo = append(todo, n)
			}
		}
		upload := base + "/" + url.PathEscape(up.UploadID)
		if err := s.sendParts(ctx, f, upload, d, todo, cfg.parallel, tr); err != nil {
			return nil, err
		}
		var out File
		err := s.client.call(ctx, http.MethodPost, upload+"/complete", map[string][]partRef{"parts": d.refs(allParts(len(d.parts)))}, &out)
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == "parts_missing" && round == 1 {
			continue // parts went missing meanwhile (swept?): send them again
		}
		if err != nil {
			return nil, err
		}
		if out.ID == "" {
			return rec, nil
		}
		return &out, nil
	}
}

// sendParts sends the parts todo, parallel at once. The first part that
// fails stops the others (their requests are cancelled and no more start)
// and is the error returned.
func (s *FileService) sendParts(ctx context.Context, f *os.File, upload string, d digest, todo []int, parallel int, tr *tracker) error {
	urls := newPartURLs(s, upload, d, todo, nil)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, n := range todo {
		if gctx.Err() != nil {
			break // a part failed, or ctx ended: start no more
		}
		g.Go(func() error { return s.sendPart(gctx, f, urls, n, d, tr) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// newPartURLs returns the URL source of upload's parts todo; known is nil
// or reports which parts' references are known yet.
func newPartURLs(s *FileService, upload string, d digest, todo []int, known func(int) bool) *partURLs {
	return &partURLs{s: s, path: upload + "/parts", d: d, todo: todo, known: known, urls: map[int]partURL{}, got: map[int]time.Time{}}
}

// sendPart sends part n, asking for a fresh URL when the store says its URL
// has expired (403).
func (s *FileService) sendPart(ctx context.Context, f *os.File, urls *partURLs, n int, d digest, tr *tracker) error {
	for refreshed := 0; ; refreshed++ {
		u, err := urls.get(ctx, n)
		if err != nil {
			return err
		}
		err = s.putPart(ctx, f, u, n, d, tr)
		var ae *APIError
		isAPI := errors.As(err, &ae)
		// A store may refuse an expired URL with 403, or (S3 servers that
		// answer before reading the body) by dropping the connection while
		// the part is still being sent: either way, a fresh URL.
		expired := err != nil && !isAPI && ctx.Err() == nil && !u.ExpiresAt.IsZero() && time.Now().After(u.ExpiresAt)
		if refreshed < 2 && ((isAPI && ae.StatusCode == http.StatusForbidden) || expired) {
			urls.drop(n)
			continue
		}
		if err != nil {
			return fmt.Errorf("perseus: part %d of %d: %w", n, len(d.parts), err)
		}
		return nil
	}
}

// putPart sends part n from the file to u, retrying what a retry can fix,
// and checks that the store holds what was sent: the SHA-256 it confirms
// (x-amz-checksum-sha256 from S3, the JSON sha256 or ETag from a Perseus
// server) must be the one computed from the file.
func (s *FileService) putPart(ctx context.Context, f *os.File, u partURL, n int, d digest, tr *tracker) error {
	size := d.partLen(n)
	if u.Size != 0 && u.Size != size {
		return fmt.Errorf("perseus: the server issued a URL for %d bytes; the part has %d", u.Size, size)
	}
	r := request{method: http.MethodPut, url: u.URL, header: u.Headers, body: section{f, int64(n-1) * d.partSize, size, tr}}
	return s.client.do(ctx, r, func(resp *http.Response) error {
		return confirmChecksum(resp, d.parts[n-1])
	})
}

// confirmChecksum checks the SHA-256 a store answered for a part it took.
func confirmChecksum(resp *http.Response, want string) error {
	var got string
	if v := resp.Header.Get("x-amz-checksum-sha256"); v != "" {
		sum, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return fmt.Errorf("perseus: the store answered a malformed checksum %q", v)
		}
		got = hex.EncodeToString(sum)
	} else {
		var body struct {
			SHA256 string `json:"sha256"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
		got = strings.ToLower(body.SHA256)
		if etag := strings.ToLower(strings.Trim(resp.Header.Get("ETag"), `"`)); got == "" && len(etag) == 64 {
			got = etag // a SHA-256, not an MD5 ETag
		}
	}
	switch got {
	case want:
		return nil
	case "":
		return errors.New("perseus: the store took the part without confirming its SHA-256")
	}
	return fmt.Errorf("perseus: the store holds a part hashing to %s, not to %s as sent", got, want)
}

// multipartUpload is the server's answer on a multipart upload.
type multipartUpload struct {
	UploadID  string       `json:"uploadId"`
	FileID    string       `json:"fileId"`
	Size      int64        `json:"size"`
	PartSize  int64        `json:"partSize"`
	PartCount int          `json:"partCount"`
	Parts     []storedPart `json:"parts"`
	// ChainedParts says whether this upload takes chained parts; nil from
	// a server that does not say, whose /api/v0/limits stands.
	ChainedParts *bool `json:"chainedParts"`
}

// chained reports whether the parts of up, of partSize bytes, go chained:
// as up says, else as the server's limits said (l), and only at SHA-256
// block boundaries. Replicas may differ (a change of --s3-parts rolling
// out): the upload's own answer is the one that counts.
func (up multipartUpload) chained(l Limits, partSize int64) bool {
	c := l.ChainedParts
	if up.ChainedParts != nil {
		c = *up.ChainedParts
	}
	return c && (partSize%sha256chain.BlockSize == 0 || up.PartCount == 1)
}

// storedPart is a part the server holds, as it answers.
type storedPart struct {
	PartNumber int    `json:"partNumber"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	From       string `json:"from"`
}

// partRef names a part as the server is to check it: its SHA-256 or, when
// chained, the chaining values before (From) and after it.
type partRef struct {
	PartNumber int    `json:"partNumber"`
	SHA256     string `json:"sha256"`
	From       string `json:"from,omitempty"`
}

// refs names the parts nums as the server is to check them.
func (d digest) refs(nums []int) []partRef {
	out := make([]partRef, len(nums))
	for i, n := range nums {
		out[i] = d.ref(n)
	}
	return out
}

// ref names part n as the server is to check it.
func (d digest) ref(n int) partRef {
	r := partRef{PartNumber: n, SHA256: d.parts[n-1]}
	if d.from != nil {
		r.From = d.from[n-1]
	}
	return r
}

// allParts returns the part numbers 1 to n.
func allParts(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}
