package perseus

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// DownloadFile writes the content of the file with this id to w and returns
// how many bytes it wrote. The bytes are hashed on the way; if they do not
// hash to the file's SHA-256 the error matches ErrChecksum, and what w
// received must not be trusted (DownloadFileTo leaves nothing behind then).
//
// A file that is not uploaded matches ErrConflict; an unknown id, ErrNotFound.
// When the server redirects to its store (S3), the bytes come from there,
// without the API key.
func (s *FileService) DownloadFile(ctx context.Context, id string, w io.Writer) (int64, error) {
	var n int64
	r := request{method: http.MethodGet, path: "/api/v0/file/" + url.PathEscape(id) + "/content"}
	r.redirect = func(resp *http.Response) error {
		target, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			return fmt.Errorf("perseus: download redirect to a bad URL: %w", err)
		}
		return s.fetch(ctx, target.String(), id, digestOf(resp.Header), w, &n)
	}
	err := s.client.do(ctx, r, func(resp *http.Response) error {
		return s.verifyCopy(ctx, resp, id, digestOf(resp.Header), w, &n)
	})
	if unsupported(err) {
		return n, fmt.Errorf("perseus: this server offers no downloads (it speaks only the v0 contract): %w", err)
	}
	return n, err
}

// fetch GETs the content from where the server redirected, with no API key:
// the URL is the credential.
func (s *FileService) fetch(ctx context.Context, target, id, want string, w io.Writer, n *int64) error {
	return s.client.do(ctx, request{method: http.MethodGet, url: target}, func(resp *http.Response) error {
		return s.verifyCopy(ctx, resp, id, want, w, n)
	})
}

// verifyCopy copies the body to w while hashing it, and checks the hash
// against want (or, when the server sent no digest, the file's sourceHash).
func (s *FileService) verifyCopy(ctx context.Context, resp *http.Response, id, want string, w io.Writer, n *int64) error {
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
	h := sha256.New()
	written, err := io.CopyBuffer(io.MultiWriter(w, h), resp.Body, make([]byte, 256<<10))
	*n = written
	if err != nil {
		return fmt.Errorf("perseus: download of file %s cut off after %d bytes: %w", id, written, err)
	}
	if got := hexSum(h); got != want {
		return fmt.Errorf("perseus: file %s: %d bytes hash to %s, not %s: %w", id, written, got, want, ErrChecksum)
	}
	return nil
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
// file at path, verified as DownloadFile does. The bytes go to a temporary
// file in the same directory, which is synced and renamed to path only once
// they are verified, so path is either the whole, verified content or left
// as it was; nothing else is left behind. A new file is readable by its
// owner only.
func (s *FileService) DownloadFileTo(ctx context.Context, id, path string) (int64, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".perseus-*")
	if err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := s.DownloadFile(ctx, id, tmp)
	if err != nil {
		return n, err
	}
	if err := tmp.Sync(); err != nil {
		return n, err
	}
	if err := tmp.Close(); err != nil {
		return n, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return n, err
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; best effort
		d.Close()
	}
	return n, nil
}
