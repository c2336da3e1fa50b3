package ingest

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// assembledParts keeps each upload through the server as an assembly of
// the store (blob.Assembler), named by the upload's partsDir key
// (assemblyID): every part is written once, at its offset, in one sparse
// file per upload, hashed on the way; the store lists it (a durable
// marker) only after the bytes are fsynced and match. The store hashes the
// whole while parts arrive; complete seals the upload, has the store finish
// the hash, and renames the file to the content key if it matches.
type assembledParts struct {
	c *Core
	a blob.Assembler
}

func (assembledParts) chained() bool { return true }

func (assembledParts) chainedFor(uploadToken) bool { return true }

func (p assembledParts) sessions(ctx context.Context, rec meta.File) ([]session, error) {
	var out []session
	dir := keys.PartsDir(rec.Tenant, rec.ID)
	err := p.a.ListAssemblies(ctx, dir, func(i blob.Info) error {
		tok, err := p.c.parseToken(rec, strings.TrimPrefix(i.Key, dir))
		if s, ok := listed(tok, err); ok {
			s.started = i.ModTime
			out = append(out, s)
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
	parts, err := p.a.AssemblyParts(ctx, keys.Assembly(rec, sess.tok.String()))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil
	}
	return parts, err
}

// partURL is empty: parts go through the server.
func (p assembledParts) partURL(context.Context, meta.File, session, blob.Part, time.Time) (string, map[string]string, error) {
	return "", nil, nil
}

func (p assembledParts) createPart(ctx context.Context, rec meta.File, tok uploadToken, part blob.Part) (blob.Writer, error) {
	return p.a.CreatePart(ctx, keys.Assembly(rec, tok.String()), tok.size, int64(part.Number-1)*tok.partSize, part)
}

// complete has the store hash the assembled bytes (the local store has
// hashed most of them already, as the parts came in) and settles the
// record: only bytes that hash to the sourceHash become its content, renamed
// into place; otherwise the record fails and its uploads go.
func (p assembledParts) complete(ctx context.Context, rec meta.File, sess session, _ []blob.Part) (meta.File, error) {
	c, id := p.c, keys.Assembly(rec, sess.tok.String())
	sum, n, err := p.a.HashAssembly(ctx, id)
	if errors.Is(err, blob.ErrNotFound) { // deleted meanwhile, or completed elsewhere
		return c.uploadGone(ctx, rec, sess.tok)
	}
	if err != nil {
		return rec, c.unavailable(ctx, "hash_assembly", rec.ID, err, "could not hash the parts: one is still being written, or a storage backend is unavailable; complete again later")
	}
	var gone bool // the assembly went meanwhile: deleted, or completed elsewhere
	f, err := c.settle(ctx, rec, verdict{sum: sum, size: n, want: sess.tok.size, what: "bytes of the parts",
		keepFailed: "could not store the content durably; complete again later",
		keep: func(ctx context.Context) error {
			err := p.a.CommitAssembly(ctx, id, keys.Content(rec))
			gone = errors.Is(err, blob.ErrNotFound)
			return err
		},
		discard:     func(ctx context.Context) error { return c.parts.removeAll(ctx, rec) },
		recordFirst: true})
	if gone {
		return c.uploadGone(ctx, rec, sess.tok)
	}
	return f, err
}

// completing is false: the store hashes and commits an assembly within
// the call, so that no complete is under way once the call returned.
func (assembledParts) completing(context.Context, meta.File, uploadToken) (bool, error) {
	return false, nil
}

// forget has nothing to remove: a verdict takes the assembly (renamed into
// place, or discarded).
func (assembledParts) forget(context.Context, meta.File, uploadToken) error { return nil }

func (p assembledParts) abort(ctx context.Context, rec meta.File, sess session) error {
	return p.a.DeleteAssembly(ctx, keys.Assembly(rec, sess.tok.String()))
}

func (p assembledParts) removeAll(ctx context.Context, rec meta.File) error {
	_, err := p.drop(ctx, keys.PartsDir(rec.Tenant, rec.ID), time.Time{})
	return err
}

func (p assembledParts) sweep(ctx context.Context, before time.Time) (int, error) {
	return p.drop(ctx, keys.PartsPrefix, before)
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

// openUploads counts the tenant's assemblies of open uploads: an open
// upload has one from its first part.
func (p assembledParts) openUploads(ctx context.Context, tenant string) (int, error) {
	n := 0
	err := p.a.ListAssemblies(ctx, keys.PartsPrefix+tenant+"/", func(i blob.Info) error {
		if strings.HasPrefix(i.Key[strings.LastIndexByte(i.Key, '/')+1:], "o") {
			n++
		}
		return nil
	})
	return n, err
}
