package perseus

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/perseus-go/perseus/internal/sha256chain"
)

// DefaultPartSize is the part size UploadFile aims for: larger files go in
// parts of about this size (more when the server's limits demand it).
const DefaultPartSize = 16 << 20

// DefaultParallelParts is how many parts of one file are sent at once.
const DefaultParallelParts = 4

// WithPartSize sets the part size aimed for; files larger than one part go
// in parts when the server offers multipart uploads. The server's limits
// may raise it.
func WithPartSize(n int64) UploadOption {
	return func(c *uploadConfig) {
		if n > 0 {
			c.partSize = n
		}
	}
}

// WithParallelParts sets how many parts of one file are sent at once.
func WithParallelParts(n int) UploadOption {
	return func(c *uploadConfig) {
		if n > 0 {
			c.parallel = n
		}
	}
}

// digest is what hashing a file yields: its SHA-256 and size and, for a
// file to send in parts, what names each part to the server: its own
// SHA-256 or, when chained, the whole's chaining value after it (the
// whole's SHA-256 for the last part) with the value before it in from.
type digest struct {
	hash     string
	size     int64
	partSize int64    // 0: the file goes in one PUT
	parts    []string // per part: hex SHA-256, or the chaining value after it
	from     []string // per part, when chained: the chaining value before it
}

// digest plans how the file at path is sent, within the server's limits,
// then hashes it in one pass.
func (s *FileService) digest(ctx context.Context, path string, cfg uploadConfig) (digest, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return digest{}, err
	}
	var partSize int64
	if fi.Size() > cfg.partSize {
		l, err := s.Limits(ctx)
		if err != nil {
			return digest{}, err
		}
		if l.MaxFileSize > 0 && fi.Size() > l.MaxFileSize {
			return digest{}, fmt.Errorf("perseus: %s is %d bytes; the server accepts at most %d", path, fi.Size(), l.MaxFileSize)
		}
		if partSize, err = planParts(fi.Size(), cfg.partSize, l); err != nil {
			return digest{}, fmt.Errorf("perseus: %s: %w", path, err)
		}
		if partSize > 0 && l.ChainedParts && partSize%sha256chain.BlockSize == 0 {
			return hashChained(ctx, path, partSize)
		}
	}
	return hashParts(ctx, path, partSize)
}

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

// hashParts reads the file once, hashing it whole and, when partSize > 0,
// part by part: the two hashes run on two goroutines over a few small
// buffers, so memory stays small whatever the file's size.
func hashParts(ctx context.Context, path string, partSize int64) (digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return digest{}, err
	}
	defer f.Close()
	const bufSize, nbufs = 512 << 10, 3
	free, full := make(chan []byte, nbufs), make(chan []byte, nbufs)
	for range nbufs {
		free <- make([]byte, bufSize)
	}
	d := digest{partSize: partSize}
	done := make(chan struct{})
	go func() { // the part hashes
		defer close(done)
		ph, in := sha256.New(), int64(0)
		for buf := range full {
			b := buf
			for len(b) > 0 && partSize > 0 {
				c := min(int64(len(b)), partSize-in)
				ph.Write(b[:c])
				b, in = b[c:], in+c
				if in == partSize {
					d.parts, in = append(d.parts, hex.EncodeToString(ph.Sum(nil))), 0
					ph.Reset()
				}
			}
			free <- buf[:0]
		}
		if in > 0 {
			d.parts = append(d.parts, hex.EncodeToString(ph.Sum(nil)))
		}
	}()
	h := sha256.New()
	for err == nil {
		if err = ctx.Err(); err != nil {
			break
		}
		b := (<-free)[:bufSize]
		var n int
		n, err = io.ReadFull(f, b)
		h.Write(b[:n])
		d.size += int64(n)
		full <- b[:n]
	}
	close(full)
	<-done
	if err == ctx.Err() {
		return digest{}, err
	}
	if err != io.EOF && err != io.ErrUnexpectedEOF {
		return digest{}, fmt.Errorf("perseus: hash %s: %w", path, err)
	}
	d.hash = hex.EncodeToString(h.Sum(nil))
	if partSize > 0 && int64(len(d.parts)) != (d.size+partSize-1)/partSize {
		return digest{}, fmt.Errorf("perseus: hash %s: it changed size while being read", path)
	}
	return d, nil
}

// hashChained reads the file once, hashing it whole and keeping the hash's
// chaining value at every part boundary: the parts are chained, so the
// server checks each as a piece of the whole and needs no pass of its own
// over the file, nor this client a second hash per part.
func hashChained(ctx context.Context, path string, partSize int64) (digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return digest{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return digest{}, err
	}
	d := digest{partSize: partSize}
	h := sha256.New()
	var in int64 // bytes of the current part hashed
	var verr error
	_, err = readAhead(ctx, f, func(b []byte) {
		for len(b) > 0 && verr == nil {
			if in == 0 { // a part begins
				var v string
				v, verr = sha256chain.Value(h)
				d.from = append(d.from, v)
			}
			c := min(int64(len(b)), partSize-in)
			h.Write(b[:c])
			b, in, d.size = b[c:], in+c, d.size+c
			if in == partSize { // it ends
				var v string
				v, verr = sha256chain.Value(h)
				d.parts, in = append(d.parts, v), 0
			}
		}
	})
	if err = cmp.Or(err, verr); err != nil {
		if err == ctx.Err() {
			return digest{}, err
		}
		return digest{}, fmt.Errorf("perseus: hash %s: %w", path, err)
	}
	if in > 0 {
		d.parts = append(d.parts, "") // the last part's: the whole's hash, below
	}
	d.hash = hex.EncodeToString(h.Sum(nil))
	if d.size != fi.Size() || d.size == 0 {
		return digest{}, fmt.Errorf("perseus: hash %s: %d bytes read, %d when opened: it changed while being read", path, d.size, fi.Size())
	}
	d.parts[len(d.parts)-1] = d.hash
	return d, nil
}

// multipartUpload is the server's answer on a multipart upload.
type multipartUpload struct {
	UploadID  string       `json:"uploadId"`
	Size      int64        `json:"size"`
	PartSize  int64        `json:"partSize"`
	PartCount int          `json:"partCount"`
	Parts     []storedPart `json:"parts"`
}

type storedPart struct {
	PartNumber int    `json:"partNumber"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	From       string `json:"from"`
}

type partRef struct {
	PartNumber int    `json:"partNumber"`
	SHA256     string `json:"sha256"`
	From       string `json:"from,omitempty"`
}

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

// partLen is the length of part n.
func (d digest) partLen(n int) int64 { return min(d.partSize, d.size-int64(n-1)*d.partSize) }

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

func allParts(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// sendParts sends the parts todo, parallel at once, and returns the first error.
func (s *FileService) sendParts(ctx context.Context, f *os.File, upload string, d digest, todo []int, parallel int, tr *tracker) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	urls := &partURLs{s: s, path: upload + "/parts", d: d, todo: todo, urls: map[int]partURL{}, got: map[int]time.Time{}}
	work := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(parallel, len(todo)) {
		wg.Go(func() {
			for n := range work {
				if err := s.sendPart(ctx, f, urls, n, d, tr); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		})
	}
feed:
	for _, n := range todo {
		select {
		case work <- n:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
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

// partURL is where one part goes, as the server answered.
type partURL struct {
	PartNumber int               `json:"partNumber"`
	URL        string            `json:"url"`
	Size       int64             `json:"size"`
	Headers    map[string]string `json:"headers"`
	ExpiresAt  time.Time         `json:"expiresAt"`
}

// partURLs asks the server for part URLs a batch at a time and keeps them
// until they are about to expire.
type partURLs struct {
	s    *FileService
	path string
	d    digest
	todo []int // the parts to send, in order

	mu   sync.Mutex
	urls map[int]partURL
	got  map[int]time.Time // when each URL was issued
}

// partURLBatch is how many part URLs are asked for at once.
const partURLBatch = 32

// fresh reports whether part n has a URL that will not expire before its
// PUT is under way: with more than 30 s left, or half its lifetime.
func (p *partURLs) fresh(n int) bool {
	u, ok := p.urls[n]
	return ok && (u.ExpiresAt.IsZero() || time.Until(u.ExpiresAt) > min(30*time.Second, u.ExpiresAt.Sub(p.got[n])/2))
}

func (p *partURLs) get(ctx context.Context, n int) (partURL, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fresh(n) {
		return p.urls[n], nil
	}
	nums := []int{n}
	for i, m := range p.todo {
		if m != n {
			continue
		}
		for _, next := range p.todo[i+1:] {
			if len(nums) == partURLBatch {
				break
			}
			if !p.fresh(next) {
				nums = append(nums, next)
			}
		}
		break
	}
	var res struct {
		Parts []partURL `json:"parts"`
	}
	if err := p.s.client.call(ctx, http.MethodPost, p.path, map[string][]partRef{"parts": p.d.refs(nums)}, &res); err != nil {
		return partURL{}, err
	}
	for _, u := range res.Parts {
		p.urls[u.PartNumber], p.got[u.PartNumber] = u, time.Now()
	}
	if !p.fresh(n) {
		return partURL{}, fmt.Errorf("perseus: the server answered no URL for part %d", n)
	}
	return p.urls[n], nil
}

func (p *partURLs) drop(n int) {
	p.mu.Lock()
	delete(p.urls, n)
	p.mu.Unlock()
}
