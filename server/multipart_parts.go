package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// serverParts keeps each part as an object under partKey, sent through
// this server, on stores that neither take parts themselves nor assemble
// them in place. Completing concatenates the parts into the content while
// hashing them: every byte is written twice.
type serverParts struct{ s *Server }

// storedPart is one part object through this server.
type storedPart struct {
	upload string
	part   blob.Part
	info   blob.Info
}

// list returns the part objects of rec under dir (partsDir or one upload's).
func (p serverParts) list(ctx context.Context, rec meta.File, dir string) ([]storedPart, error) {
	var out []storedPart
	base := partsDir(rec.Tenant, rec.ID)
	err := p.s.cfg.Blobs.List(ctx, dir, func(i blob.Info) error {
		upload, name, ok := strings.Cut(strings.TrimPrefix(i.Key, base), "/")
		num, sha, ok2 := strings.Cut(name, "-")
		n, err := strconv.Atoi(num)
		if !ok || !ok2 || err != nil || len(sha) != 64 {
			return nil // not a part
		}
		out = append(out, storedPart{upload, blob.Part{Number: n, Size: i.Size, SHA256: sha, ETag: `"` + sha + `"`}, i})
		return nil
	})
	return out, err
}

func (p serverParts) sessions(ctx context.Context, rec meta.File) ([]session, error) {
	stored, err := p.list(ctx, rec, partsDir(rec.Tenant, rec.ID))
	if err != nil {
		return nil, err
	}
	byID := map[string]session{}
	for _, sp := range stored {
		tok, ok := p.s.parseToken(rec, sp.upload)
		if c, seen := byID[sp.upload]; ok && (!seen || sp.info.ModTime.After(c.started)) {
			byID[sp.upload] = session{tok: tok, started: sp.info.ModTime}
		}
	}
	out := make([]session, 0, len(byID))
	for _, c := range byID {
		out = append(out, c)
	}
	return out, nil
}

// session always finds tok: an upload through this server exists from its
// first part, and holds nothing before.
func (p serverParts) session(_ context.Context, _ meta.File, tok uploadToken) (session, bool, error) {
	return session{tok: tok}, true, nil
}

func (p serverParts) start(_ context.Context, _ meta.File, plan uploadToken) (session, error) {
	return session{tok: plan, started: time.Now()}, nil
}

func (p serverParts) parts(ctx context.Context, rec meta.File, sess session) ([]blob.Part, error) {
	stored, err := p.list(ctx, rec, partsDir(rec.Tenant, rec.ID)+sess.tok.String()+"/")
	out := make([]blob.Part, len(stored))
	for i, sp := range stored {
		out[i] = sp.part
	}
	return out, err
}

func (p serverParts) partURL(r *http.Request, rec meta.File, sess session, part blob.Part, exp time.Time) (string, map[string]string, error) {
	return p.s.partURLHere(r, rec, sess, part, exp)
}

func (p serverParts) createPart(ctx context.Context, rec meta.File, tok uploadToken, part blob.Part) (blob.Writer, error) {
	key := partKey(rec.Tenant, rec.ID, tok.String(), part.Number, part.SHA256)
	bw, err := p.s.cfg.Blobs.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	// A part sent again with other bytes replaces the one it had.
	prefix := partsDir(rec.Tenant, rec.ID) + tok.String() + "/" + partName(part.Number, "")
	replace := func(ctx context.Context) {
		p.s.cfg.Blobs.List(ctx, prefix, func(i blob.Info) error {
			if i.Key != key {
				p.s.cfg.Blobs.Delete(ctx, i.Key)
			}
			return nil
		})
	}
	return &checkedPart{Writer: bw, h: sha256.New(), p: part, after: replace}, nil
}

// checkedPart commits a part object only if its bytes are the part's.
type checkedPart struct {
	blob.Writer
	h     hash.Hash
	n     int64
	p     blob.Part
	after func(context.Context) // once committed
}

func (c *checkedPart) Write(b []byte) (int, error) {
	n, err := c.Writer.Write(b)
	c.h.Write(b[:n])
	c.n += int64(n)
	return n, err
}

func (c *checkedPart) Commit(ctx context.Context) error {
	if got := hex.EncodeToString(c.h.Sum(nil)); c.n != c.p.Size || got != c.p.SHA256 {
		c.Writer.Abort()
		return fmt.Errorf("part %d: %d bytes hashing to %s: %w", c.p.Number, c.n, got, blob.ErrPartMismatch)
	}
	if err := c.Writer.Commit(ctx); err != nil {
		return err
	}
	c.after(ctx)
	return nil
}

// complete concatenates the parts into rec's content while hashing them.
// Only content that hashes to the sourceHash is committed and makes the
// record uploaded; otherwise the record fails and the parts go.
func (p serverParts) complete(ctx context.Context, rec meta.File, sess session, parts []blob.Part) (meta.File, *Error) {
	s := p.s
	dst := contentKey(rec.Tenant, rec.SourceHash, rec.ID)
	bw, err := s.cfg.Blobs.Create(ctx, dst)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "blob create", "id", rec.ID, "err", err)
		return rec, ErrUnavailable
	}
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	var n int64
	for _, part := range parts {
		r, err := s.cfg.Blobs.Open(ctx, partKey(rec.Tenant, rec.ID, sess.tok.String(), part.Number, part.SHA256), 0)
		if err == nil {
			var c int64
			c, err = io.CopyBuffer(io.MultiWriter(bw, h), r, *buf)
			r.Close()
			n += c
		}
		if err != nil {
			bw.Abort()
			s.cfg.Logger.ErrorContext(ctx, "assemble parts", "id", rec.ID, "part", part.Number, "err", err)
			return rec, ErrUnavailable.With("could not read part %d back: a storage backend is unavailable; complete again later", part.Number)
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != rec.SourceHash || n != sess.tok.size {
		bw.Abort()
		reason := fmt.Sprintf("the %d bytes of the parts hash to %s, not to the declared sourceHash", n, got)
		f, err := s.settle(ctx, rec, meta.StatusFailed, 0, reason)
		if err != nil {
			s.cfg.Logger.ErrorContext(ctx, "mark failed", "id", rec.ID, "err", err)
		}
		s.removeMultipart(ctx, rec)
		if f.Status == meta.StatusUploaded { // another upload got there first
			return f, nil
		}
		return rec, ErrHashMismatch.With("%s; the file is marked failed and the parts were discarded", reason)
	}
	if err := bw.Commit(ctx); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "blob commit", "id", rec.ID, "err", err)
		return rec, ErrUnavailable.With("could not store the content durably; complete again later")
	}
	return s.settleUploaded(ctx, rec, n)
}

func (p serverParts) abort(ctx context.Context, rec meta.File, sess session) error {
	return p.removeDir(ctx, partsDir(rec.Tenant, rec.ID)+sess.tok.String()+"/")
}

func (p serverParts) removeAll(ctx context.Context, rec meta.File) error {
	return p.removeDir(ctx, partsDir(rec.Tenant, rec.ID))
}

// removeDir deletes every object under dir.
func (p serverParts) removeDir(ctx context.Context, dir string) error {
	var keys []string
	if err := p.s.cfg.Blobs.List(ctx, dir, func(i blob.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		errs = append(errs, p.s.cfg.Blobs.Delete(ctx, k))
	}
	return errors.Join(errs...)
}

// sweep deletes the part objects of uploads whose newest part is older
// than before: parts/<tenant>/<id>/<uploadId>/<part>.
func (p serverParts) sweep(ctx context.Context, before time.Time) (int, error) {
	newest := map[string]time.Time{}
	var keys []string
	err := p.s.cfg.Blobs.List(ctx, partsPrefix, func(i blob.Info) error {
		seg := strings.Split(i.Key, "/")
		if len(seg) != 5 {
			return nil
		}
		dir := strings.Join(seg[:4], "/") + "/"
		if i.ModTime.After(newest[dir]) {
			newest[dir] = i.ModTime
		}
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range newest {
		if t.Before(before) {
			n++
		}
	}
	for _, k := range keys {
		seg := strings.Split(k, "/")
		if newest[strings.Join(seg[:4], "/")+"/"].Before(before) {
			if err := p.s.cfg.Blobs.Delete(ctx, k); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}
