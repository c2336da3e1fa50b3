package perseus

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DownloadOption configures DownloadFile and DownloadFileTo.
type DownloadOption func(*downloadConfig)

type downloadConfig struct {
	progress func(done, total int64)
}

// WithDownloadProgress has fn called as bytes arrive, with how many bytes of
// the content are held so far (a resumed download starts at what was held
// before) and its whole size (-1 when the server did not say).
func WithDownloadProgress(fn func(done, total int64)) DownloadOption {
	return func(c *downloadConfig) { c.progress = fn }
}

// DownloadFile writes the content of the file with this id to w and returns
// how many bytes it wrote. The bytes are hashed on the way; if they do not
// hash to the file's SHA-256 the error matches ErrChecksum, and what w
// received must not be trusted (DownloadFileTo leaves nothing behind then).
//
// A file that is not uploaded matches ErrConflict; an unknown id, ErrNotFound.
// When the server redirects to its store (S3), the bytes come from there,
// without the API key.
func (s *FileService) DownloadFile(ctx context.Context, id string, w io.Writer, opts ...DownloadOption) (int64, error) {
	st := &dlState{w: w, h: sha256.New()}
	for _, o := range opts {
		o(&st.cfg)
	}
	err := s.download(ctx, id, st)
	return st.n, err
}

// dlState is one download: where its bytes go, the hash of what is held
// so far, and how much of the content was held before it began.
type dlState struct {
	w       io.Writer
	h       hash.Hash // covers the offset bytes held before, then what arrives
	offset  int64     // bytes held before: the request asks for the rest
	n       int64     // bytes written by this download
	restart func() error
	cfg     downloadConfig
}

func (s *FileService) download(ctx context.Context, id string, st *dlState) error {
	r := request{method: http.MethodGet, path: "/api/v0/file/" + url.PathEscape(id) + "/content", header: st.rangeHeader()}
	r.redirect = func(resp *http.Response) error {
		target, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			return fmt.Errorf("perseus: download redirect to a bad URL: %w", err)
		}
		return s.fetch(ctx, target.String(), id, digestOf(resp.Header), st)
	}
	err := s.client.do(ctx, r, func(resp *http.Response) error {
		return s.verifyCopy(ctx, resp, id, digestOf(resp.Header), st)
	})
	if unsupported(err) {
		return fmt.Errorf("perseus: this server offers no downloads (it speaks only the v0 contract): %w", err)
	}
	return err
}

// rangeHeader asks for the rest of the content when some is held already.
func (st *dlState) rangeHeader() map[string]string {
	if st.offset == 0 {
		return nil
	}
	return map[string]string{"Range": "bytes=" + strconv.FormatInt(st.offset, 10) + "-"}
}

// fetch GETs the content from where the server redirected, with no API key:
// the URL is the credential.
func (s *FileService) fetch(ctx context.Context, target, id, want string, st *dlState) error {
	return s.client.do(ctx, request{method: http.MethodGet, url: target, header: st.rangeHeader()}, func(resp *http.Response) error {
		return s.verifyCopy(ctx, resp, id, want, st)
	})
}

// verifyCopy copies the body to w while hashing it, and checks the hash of
// the whole (what was held before and what arrived) against want (or, when
// the server sent no digest, the file's sourceHash). A server that answers
// a range request with the whole content has what was held dropped first.
func (s *FileService) verifyCopy(ctx context.Context, resp *http.Response, id, want string, st *dlState) error {
	if want == "" {
		f, err := s.FindFile(ctx, id)
		if err != nil {
			return err
		}
		if f == nil || len(f.SourceHash) != 64 {
			return fmt.Errorf("perseus: no SHA-256 to verify file %s against: %w", id, ErrChecksum)
		}
		want = strings.ToLower(f.SourceHash)
	}
	total := int64(-1)
	switch {
	case st.offset > 0 && resp.StatusCode == http.StatusPartialContent:
		first, size, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || first != st.offset {
			return fmt.Errorf("perseus: download of file %s: asked for bytes from %d, got Content-Range %q", id, st.offset, resp.Header.Get("Content-Range"))
		}
		total = size
	case st.offset > 0:
		if err := st.restart(); err != nil { // the server sent the whole
			return err
		}
		st.h.Reset()
		st.offset = 0
		fallthrough
	default:
		if resp.ContentLength >= 0 {
			total = resp.ContentLength
		}
	}
	w := io.MultiWriter(st.w, st.h)
	if st.cfg.progress != nil {
		w = &progressWriter{w: w, done: st.offset, total: total, fn: st.cfg.progress}
	}
	written, err := io.CopyBuffer(w, resp.Body, make([]byte, 256<<10))
	st.n = written
	if err != nil {
		return fmt.Errorf("perseus: download of file %s cut off after %d bytes: %w", id, st.offset+written, err)
	}
	if got := hexSum(st.h); got != want {
		return fmt.Errorf("perseus: file %s: %d bytes hash to %s, not %s: %w", id, st.offset+written, got, want, ErrChecksum)
	}
	return nil
}

// contentRange reads "bytes FIRST-LAST/SIZE" (SIZE -1 when "*").
func contentRange(v string) (first, size int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, sz, found := strings.Cut(spec, "/")
	a, _, found2 := strings.Cut(rng, "-")
	if !found || !found2 {
		return 0, 0, false
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	size = -1
	if sz != "*" {
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return first, size, true
}

// progressWriter reports the bytes held after each write.
type progressWriter struct {
	w           io.Writer
	done, total int64
	fn          func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.fn(p.done, p.total)
	return n, err
}

// digestOf reads the content's SHA-256 from Repr-Digest (RFC 9530) or, failing
// that, from an ETag made of 64 hex digits; "" if neither says.
func digestOf(h http.Header) string {
	for _, field := range strings.Split(h.Get("Repr-Digest"), ",") {
		alg, val, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok || !strings.EqualFold(alg, "sha-256") {
			continue
		}
		sum, err := base64.StdEncoding.DecodeString(strings.Trim(val, ":"))
		if err == nil && len(sum) == sha256.Size {
			return hex.EncodeToString(sum)
		}
	}
	if tag := strings.Trim(h.Get("ETag"), `"`); len(tag) == 64 {
		if _, err := hex.DecodeString(tag); err == nil {
			return strings.ToLower(tag)
		}
	}
	return ""
}

// hexSum returns the hex of what h has summed so far.
func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// DownloadFileTo downloads the content of the file with this id into the
// file at path, verified as DownloadFile does, and returns the content's
// size. The bytes go to a partial file in the same directory,
// ".perseus-ID.part", which is synced and renamed to path only once the
// whole is verified, so path is either the whole, verified content or left
// as it was. A download that is cut off (Ctrl-C, a dropped connection)
// keeps its partial file, and the next DownloadFileTo of the same id into
// the same directory continues it, asking only for the rest (a Range
// request, as curl -C - does); the whole is still verified against the
// SHA-256. Content that does not verify is removed, partial file and all.
// A new file is created with the mode the umask allows (0666 &^ umask).
func (s *FileService) DownloadFileTo(ctx context.Context, id, path string, opts ...DownloadOption) (int64, error) {
	dir := filepath.Dir(path)
	if err := checkTarget(path); err != nil {
		return 0, err
	}
	part := filepath.Join(dir, PartialName(id))
	// A partial file is continued only if it is a plain file: never through
	// a link someone else left there, which could make this write elsewhere.
	if fi, err := os.Lstat(part); err == nil && !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("perseus: %s is not a regular file; remove it and download again", part)
	}
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return 0, err
	}
	if fi, err := f.Stat(); err != nil || !isPlainFile(part, fi) {
		f.Close()
		return 0, fmt.Errorf("perseus: %s is not a regular file; remove it and download again", part)
	}
	st := &dlState{w: f, h: sha256.New()}
	for _, o := range opts {
		o(&st.cfg)
	}
	done := false
	defer func() {
		if done {
			return
		}
		info, _ := f.Stat()
		f.Close()
		if info == nil || info.Size() == 0 {
			os.Remove(part) // nothing worth keeping
		}
	}()
	// Hash what an earlier download left, and continue after it.
	held, err := io.Copy(st.h, f)
	if err != nil {
		return 0, err
	}
	st.offset = held
	st.restart = func() error {
		if err := f.Truncate(0); err != nil {
			return err
		}
		_, err := f.Seek(0, io.SeekStart)
		return err
	}
	err = s.download(ctx, id, st)
	var ae *APIError
	if err != nil && st.offset > 0 && errors.As(err, &ae) && ae.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		// What was held is not a beginning of this content: start over.
		if err = st.restart(); err == nil {
			st.h.Reset()
			st.offset = 0
			err = s.download(ctx, id, st)
		}
	}
	size := st.offset + st.n
	if errors.Is(err, ErrChecksum) {
		f.Close()
		os.Remove(part)
		done = true
		return size, err
	}
	if err != nil {
		return size, err
	}
	if err := f.Sync(); err != nil {
		return size, err
	}
	if err := f.Close(); err != nil {
		return size, err
	}
	done = true
	if err := os.Rename(part, path); err != nil {
		os.Remove(part)
		return size, err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; best effort
		d.Close()
	}
	return size, nil
}

// PartialName is the name, in the target's directory, of the partial file
// DownloadFileTo keeps while it downloads the file with this id.
func PartialName(id string) string {
	safe := id != "" && len(id) <= 64 && strings.IndexFunc(id, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0
	if !safe {
		sum := sha256.Sum256([]byte(id))
		id = hex.EncodeToString(sum[:16])
	}
	return ".perseus-" + id + ".part"
}

// checkTarget makes the file system say now, before any byte is fetched,
// whether it refuses path (a name too long, a missing directory, no write
// permission): creating it, if it does not exist, and removing it again.
func checkTarget(path string) error {
	info, err := os.Lstat(path)
	switch {
	case err == nil && info.IsDir():
		return &fs.PathError{Op: "download to", Path: path, Err: syscall.EISDIR}
	case err == nil:
		return nil // it will be replaced
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	f.Close()
	return os.Remove(path)
}

// isPlainFile reports whether path names, without a link, the regular file
// whose information (of an open descriptor) is fi.
func isPlainFile(path string, fi os.FileInfo) bool {
	li, err := os.Lstat(path)
	return err == nil && li.Mode().IsRegular() && fi.Mode().IsRegular() && os.SameFile(li, fi)
}
