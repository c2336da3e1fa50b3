package ingest

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// The most one ReceiveAll takes, where the blob store commits many objects
// together (blob.BatchCommitter): as many files as a batch create makes,
// so that a client sends each batch it created in one request, and few
// enough bytes that a batch's temp files are at most this much of the page
// cache and its first file does not wait long for its last.
const (
	maxBatchFiles = 100
	maxBatchBytes = 64 << 20
)

// Piece is one file of ReceiveAll: the id of the tenant's file, and how
// many bytes of the body are its content.
type Piece struct {
	ID   string
	Size int64
}

// Received is what ReceiveAll did with one piece: the file, uploaded, or
// the error Receive would have answered for it (Rec may then be empty).
type Received struct {
	Rec meta.File
	Err error
}

// BatchLimits returns the most files and bytes one ReceiveAll takes, or
// 0, 0 when the blob store cannot commit objects together and ReceiveAll
// is not offered.
func (c *Core) BatchLimits() (files int, bytes int64) {
	if c.batch == nil {
		return 0, 0
	}
	return maxBatchFiles, maxBatchBytes
}

// ReceiveAll takes the content of many of tenant's files, created before
// (Create, CreateAll), in one body: the bytes of each piece in turn,
// exactly its Size of them. Each file is checked as Receive checks it,
// and its bytes stream into the store while being hashed, as Receive's
// do; then the blob store makes every file whose bytes hash to its
// sourceHash durable at once (blob.BatchCommitter), and only then are
// their records made uploaded, each by settle's own step, at the same
// time, so that the metadata store can commit them together. A file that
// cannot take bytes, or whose bytes do not verify, fails alone: its bytes
// are read past (or, if they were wrong, discarded and the record failed)
// and the others go on. A body that ends early fails the file it ends in
// and every one after (ErrIncomplete).
//
// Where the store commits no objects together (BatchLimits 0) it answers
// ErrNotBatched; pieces beyond BatchLimits are ErrTooLarge, whole.
func (c *Core) ReceiveAll(ctx context.Context, tenant string, pieces []Piece, body io.Reader) ([]Received, error) {
	files, most := c.BatchLimits()
	if files == 0 {
		return nil, ErrNotBatched
	}
	var sum int64
	for _, p := range pieces {
		if p.Size < 0 || p.Size > most-sum || len(pieces) > files { // before adding: the sum must not wrap
			return nil, failf(ErrTooLarge, "%d files of more than %d bytes in all in one batch; this server takes at most %d files and %d bytes in one", len(pieces), most, files, most)
		}
		sum += p.Size
	}
	out := make([]Received, len(pieces))
	var recs []meta.File
	var vs []verdict
	var ws []blob.Writer
	var at []int // at[j]: the piece of recs[j]
	var u meta.Usage
	quota := c.cfg.QuotaBytes > 0
	if quota {
		var err error
		if u, err = c.meta.Usage(ctx, tenant); err != nil {
			return nil, err
		}
	}
	cut := false // the body ended early: every later piece is incomplete
	for i, p := range pieces {
		if cut {
			out[i].Err = failf(ErrIncomplete, "the batch's body ended before this file's bytes; nothing was kept, send it again")
			continue
		}
		rec, err := c.meta.Get(ctx, tenant, p.ID)
		if errors.Is(err, meta.ErrNotFound) {
			err = failf(ErrGone, "you have no file with this id: it was deleted (by a DELETE, or by the server after the pending TTL), or it was never yours; create it again and send its bytes then")
		} else {
			err = c.receivable(rec, err, p.Size)
		}
		if err == nil && quota {
			if err = c.fits(u, false, p.Size); err == nil {
				u.Bytes += p.Size
			}
		}
		if err != nil {
			out[i] = Received{Rec: rec, Err: err}
			if n, serr := io.CopyN(io.Discard, body, p.Size); serr != nil {
				cut = true
				out[i].Err = errors.Join(err, failf(ErrIncomplete, "the body ended %d bytes into this file's %d", n, p.Size))
			}
			continue
		}
		lr := &io.LimitedReader{R: body, N: p.Size}
		bw, hash, n, err := c.copyIn(ctx, keys.Content(rec), rec.ID, lr, p.Size)
		if err != nil {
			out[i] = Received{Rec: rec, Err: err}
			if _, serr := io.CopyN(io.Discard, body, lr.N); serr != nil || errors.Is(err, ErrIncomplete) {
				cut = true
			}
			continue
		}
		recs, ws, at = append(recs, rec), append(ws, bw), append(at, i)
		vs = append(vs, verdict{sum: hash, size: n, want: -1, what: "uploaded bytes",
			discard: func(context.Context) error { return bw.Abort() }})
	}
	settled := c.settleAll(context.WithoutCancel(ctx), recs, vs, func(ctx context.Context, keep []int) []error {
		kws := make([]blob.Writer, len(keep))
		for k, j := range keep {
			kws[k] = ws[j]
		}
		return c.batch.CommitAll(ctx, kws)
	})
	for j, r := range settled {
		out[at[j]] = r
	}
	return out, nil
}

// settleAll is settle for many records, each with its verdict, whose
// verified bytes are kept together: keepAll keeps those of the records
// given by index, returning an error for each. Bytes that do not verify
// are rejected as settle rejects them, before; the records whose bytes
// were kept then say uploaded, each by settle's own last step, all at
// once, so that a metadata store that groups concurrent commits (SQLite's
// writer) commits them together. Nothing is recorded uploaded before its
// bytes are durable.
func (c *Core) settleAll(ctx context.Context, recs []meta.File, vs []verdict, keepAll func(context.Context, []int) []error) []Received {
	out := make([]Received, len(recs))
	var keep []int
	for i, rec := range recs {
		if reason := vs[i].reasonAgainst(rec); reason != "" {
			out[i].Rec, out[i].Err = c.reject(ctx, rec, vs[i], reason)
			continue
		}
		keep = append(keep, i)
	}
	if len(keep) == 0 {
		return out
	}
	errs := keepAll(ctx, keep)
	var wg sync.WaitGroup
	for k, i := range keep {
		if errs[k] != nil {
			out[i] = Received{Rec: recs[i], Err: c.keepFailed(ctx, recs[i], vs[i], errs[k])}
			continue
		}
		wg.Go(func() { out[i].Rec, out[i].Err = c.record(ctx, recs[i], vs[i]) })
	}
	wg.Wait()
	return out
}
