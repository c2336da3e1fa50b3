package ingest

// Quotas: each tenant may keep at most Config.QuotaFiles files and
// Config.QuotaBytes bytes (0: no bound). What counts is what the metadata
// store's Usage counts: the tenant's pending and uploaded records (a
// pending record is a file on its way; a failed one holds nothing and
// counts for nothing until a create makes it pending again), and the
// verified sizes of its uploaded ones (a file's bytes count from when they
// are verified; a pending file counts as a file of no bytes yet).
//
// Each way of arrival checks the quotas before it takes a byte, as soon as
// it knows what it adds:
//
//   - Create adds a file, unless the tenant has a pending or uploaded
//     record of that content already (the one it returns);
//   - Stream adds a file and its Content-Length;
//   - Receive, the single PUT, adds its Content-Length, and needs one while
//     a byte quota is set (ErrLengthRequired);
//   - StartMultipart adds the size its plan declares; parts are not checked
//     again;
//   - a direct (presigned) PUT cannot be refused before it is sent: the
//     verifier fails its record, without reading the object, when its
//     size does not fit (verifyStaged).
//
// A file that does not fit is ErrOverQuota when it is larger than what
// remains (413), ErrQuotaExceeded when nothing remains (507). A file of no
// bytes always fits the byte quota.
//
// The check reads the usage and does not reserve anything, so uploads
// under way at once each see the usage without the others and together may
// overshoot the byte quota by what they carry beyond it, and concurrent
// creates the files quota by their number. The check never refuses what
// fits: usage counts only records that exist and bytes that are verified.

import (
	"context"
	"errors"
	"fmt"

	"github.com/dustin/go-humanize"
	"github.com/perseus-go/perseus/store/meta"
)

// Usage returns what tenant keeps, as the quotas count it.
func (c *Core) Usage(ctx context.Context, tenant string) (meta.Usage, error) {
	return c.meta.Usage(ctx, tenant)
}

// roomFor returns nil when tenant may add one more file (if newFile) and
// size more bytes (-1: not known yet); otherwise ErrQuotaExceeded or
// ErrOverQuota with what to do. It asks the store only when a quota
// applies.
func (c *Core) roomFor(ctx context.Context, tenant string, newFile bool, size int64) error {
	if !(newFile && c.cfg.QuotaFiles > 0) && !(size > 0 && c.cfg.QuotaBytes > 0) {
		return nil
	}
	u, err := c.meta.Usage(ctx, tenant)
	if err != nil {
		return err
	}
	return c.fits(u, newFile, size)
}

// fits is roomFor for a tenant whose usage is u.
func (c *Core) fits(u meta.Usage, newFile bool, size int64) error {
	if q := c.cfg.QuotaFiles; newFile && q > 0 && u.Files >= q {
		return failf(ErrQuotaExceeded, "you keep %d files (pending or uploaded) and your quota is %d: delete files you no longer need, pending ones included, then try again", u.Files, q)
	}
	q := c.cfg.QuotaBytes
	if size <= 0 || q <= 0 || size <= q-u.Bytes {
		return nil
	}
	switch left := q - u.Bytes; {
	case size > q:
		return failf(ErrOverQuota, "this file is %s, more than your whole quota of %s: it cannot be stored here unless the quota is raised", sizeOf(size), sizeOf(q))
	case left <= 0:
		return failf(ErrQuotaExceeded, "your uploaded files take %s of your quota of %s: delete files you no longer need to make room for this file's %s, then try again", sizeOf(u.Bytes), sizeOf(q), sizeOf(size))
	default:
		return failf(ErrOverQuota, "this file is %s but only %s remain of your quota of %s: delete files you no longer need to make room, then try again", sizeOf(size), sizeOf(left), sizeOf(q))
	}
}

// roomForRecord is roomFor a create of tenant's content hash: a new file,
// unless a pending or uploaded record of that content is there already,
// which the create returns rather than adding one. It looks for that
// record only when the tenant is at its files quota.
func (c *Core) roomForRecord(ctx context.Context, tenant, hash string) error {
	err := c.roomFor(ctx, tenant, true, -1)
	if !errors.Is(err, ErrQuotaExceeded) {
		return err
	}
	have, ferr := c.meta.Find(ctx, tenant, nil, []string{hash})
	if ferr != nil {
		return ferr
	}
	for _, f := range have {
		if f.Status == meta.StatusPending || f.Status == meta.StatusUploaded {
			return nil
		}
	}
	return err
}

// sizeOf says n bytes for a person: "5368709120 bytes (5.0 GiB)".
func sizeOf(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%d bytes (%s)", n, humanize.IBytes(uint64(n)))
}
