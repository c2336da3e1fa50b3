package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// assembledParts keeps each upload through this server as an assembly of
// the store (blob.Assembler), named by the upload's partsDir key: every
// part is written once, at its offset, and completing it hashes the whole
// and renames it into place.
type assembledParts struct {
	s *Server
	a blob.Assembler
}

func assemblyID(rec meta.File, tok uploadToken) string {
	return partsDir(rec.Tenant, rec.ID) + tok.String()
}

func (p assembledParts) sessions(ctx context.Context, rec meta.File) ([]session, error) {
	var out []session
	dir := partsDir(rec.Tenant, rec.ID)
	err := p.a.ListAssemblies(ctx, dir, func(i blob.Info) error {
		if tok, ok := p.s.parseToken(rec, strings.TrimPrefix(i.Key, dir)); ok {
			out = append(out, session{tok: tok, started: i.ModTime})
		}
		return nil
	})
	return out, err
}

// session always finds tok: an assembly exists from its first part, and
// holds nothing before.
func (p assembledParts) session(_ context.Context, _ meta.File, tok uploadToken) (session, bool, error) {
	return session{tok: tok}, true, nil
}

func (p assembledParts) start(_ context.Context, _ meta.File, plan uploadToken) (session, error) {
	return session{tok: plan, started: time.Now()}, nil
}

func (p assembledParts) parts(ctx context.Context, rec meta.File, sess session) ([]blob.Part, error) {
	parts, err := p.a.AssemblyParts(ctx, assemblyID(rec, sess.tok))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil
	}
	return parts, err
}

func (p assembledParts) partURL(r *http.Request, rec meta.File, sess session, part blob.Part, exp time.Time) (string, map[string]string, error) {
	return p.s.partURLHere(r, rec, sess, part, exp)
}

func (p assembledParts) createPart(ctx context.Context, rec meta.File, tok uploadToken, part blob.Part) (blob.Writer, error) {
	return p.a.CreatePart(ctx, assemblyID(rec, tok), tok.size, int64(part.Number-1)*tok.partSize, part)
}

// complete has the store hash the assembled bytes (the local store has
// hashed most of them already, as the parts came in) and only if they hash
// to the sourceHash makes them the content and the record uploaded;
// otherwise the record fails and its uploads go.
func (p assembledParts) complete(ctx context.Context, rec meta.File, sess session, _ []blob.Part) (meta.File, *Error) {
	s, id := p.s, assemblyID(rec, sess.tok)
	sum, n, err := p.a.HashAssembly(ctx, id)
	if errors.Is(err, blob.ErrNotFound) { // deleted meanwhile, or completed elsewhere
		return s.uploadGone(ctx, rec)
	}
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "hash assembly", "id", rec.ID, "err", err)
		return rec, ErrUnavailable.With("could not hash the parts: one is still being written, or a storage backend is unavailable; complete again later")
	}
	if sum != rec.SourceHash || n != sess.tok.size {
		reason := fmt.Sprintf("the %d bytes of the parts hash to %s, not to the declared sourceHash", n, sum)
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
	dst := contentKey(rec.Tenant, rec.SourceHash, rec.ID)
	if err := p.a.CommitAssembly(ctx, id, dst); errors.Is(err, blob.ErrNotFound) {
		return s.uploadGone(ctx, rec)
	} else if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "commit assembly", "id", rec.ID, "err", err)
		return rec, ErrUnavailable.With("could not store the content durably; complete again later")
	}
	return s.settleUploaded(ctx, rec, n)
}

func (p assembledParts) abort(ctx context.Context, rec meta.File, sess session) error {
	return p.a.DeleteAssembly(ctx, assemblyID(rec, sess.tok))
}

func (p assembledParts) removeAll(ctx context.Context, rec meta.File) error {
	_, err := p.drop(ctx, partsDir(rec.Tenant, rec.ID), time.Time{})
	return err
}

func (p assembledParts) sweep(ctx context.Context, before time.Time) (int, error) {
	return p.drop(ctx, partsPrefix, before)
}

// drop deletes the assemblies under prefix last written before before (any,
// when before is zero) and returns how many.
func (p assembledParts) drop(ctx context.Context, prefix string, before time.Time) (int, error) {
	var ids []string
	if err := p.a.ListAssemblies(ctx, prefix, func(i blob.Info) error {
		if before.IsZero() || i.ModTime.Before(before) {
			ids = append(ids, i.Key)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, p.a.DeleteAssembly(ctx, id))
	}
	return len(ids), errors.Join(errs...)
}
