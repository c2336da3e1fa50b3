package ingest

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/store/meta"
)

// Downloadable returns tenant's file id when it has content to download:
// ErrNotFound when there is no such file, ErrNotUploaded when it is pending
// or failed.
func (c *Core) Downloadable(ctx context.Context, tenant, id string) (meta.File, error) {
	f, err := c.Get(ctx, tenant, id)
	if err != nil {
		return f, err
	}
	if f.Status != meta.StatusUploaded {
		return f, failf(ErrNotUploaded, "file %s is %s: only an uploaded file has content to download", f.ID, f.Status)
	}
	return f, nil
}

// DownloadLink is where the content of one uploaded file can be fetched
// without an API key, until Expires.
type DownloadLink struct {
	// URL is the store's presigned GET, which serves the content as an
	// attachment under the file's name; empty when the store does not
	// presign reads.
	URL string
	// Query, when URL is empty, is the signed query of the HTTP layer's
	// own download URL of the file, which CheckDownload verifies.
	Query string
	// Expires is when the link stops working.
	Expires time.Time
}

// DownloadLink returns a link to the content of tenant's file id that
// works for ttl without an API key: a presigned GET of the store where it
// presigns reads, otherwise a query signed for this file and its content,
// so that the link stops working once the file is deleted. Errors are
// Downloadable's.
func (c *Core) DownloadLink(ctx context.Context, tenant, id string, ttl time.Duration) (meta.File, DownloadLink, error) {
	f, err := c.Downloadable(ctx, tenant, id)
	if err != nil {
		return f, DownloadLink{}, err
	}
	exp := time.Now().Add(ttl)
	if c.reads == nil {
		return f, DownloadLink{Query: c.cfg.Signer.DownloadQuery(f.Tenant, f.ID, f.SourceHash, exp), Expires: exp}, nil
	}
	u, err := c.presignGet(ctx, f, ttl, f.Name)
	return f, DownloadLink{URL: u, Expires: exp}, err
}

// CheckDownload verifies the query of a download URL of file id (one
// DownloadLink made) at now, and returns the file it was made for:
// ErrDownloadInvalid when its signature does not match, ErrDownloadExpired
// when it did but has expired, a *sign.UnknownKeyError when another
// replica's key signed it; ErrNotFound when the file was deleted since (or
// its id now names other content), ErrNotUploaded as Downloadable.
func (c *Core) CheckDownload(ctx context.Context, id string, q url.Values, now time.Time) (meta.File, error) {
	tenant, hash, err := c.cfg.Signer.CheckDownload(id, q, now)
	switch {
	case errors.Is(err, sign.ErrInvalid):
		return meta.File{}, ErrDownloadInvalid
	case errors.Is(err, sign.ErrExpired):
		return meta.File{}, ErrDownloadExpired
	case err != nil:
		return meta.File{}, err
	}
	f, err := c.Downloadable(ctx, tenant, id)
	if errors.Is(err, ErrNotFound) || err == nil && f.SourceHash != hash {
		return meta.File{}, failf(ErrNotFound, "file %s was deleted after this download URL was made", id)
	}
	return f, err
}
