package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// Create returns tenant's record for the content hash, creating it (named
// name) when there is none: the v0 contract's create, with dedup. A pending
// or failed record of that content is made pending again and returned with
// created false (self-heal: it takes bytes again); an uploaded one is
// returned as it is, and the caller has nothing to send. A create that
// would add a file beyond the tenant's files quota is ErrQuotaExceeded.
func (c *Core) Create(ctx context.Context, tenant, name, hash string) (rec meta.File, created bool, err error) {
	if err := c.roomForRecord(ctx, tenant, hash); err != nil {
		return rec, false, err
	}
	return c.meta.Claim(ctx, meta.File{
		ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Name: name, SourceHash: hash,
		Kind: meta.KindHashed, CreatedAt: now(),
	})
}

// now is a record's timestamp: UTC, to the millisecond, as the contract shows it.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// DirectURL returns a URL of the blob store that takes one plain PUT of
// rec's content until ttl has passed, and true; or false when the store
// takes no direct uploads and the bytes come through the HTTP layer
// (Receive). Bytes put there are verified by Run before rec says uploaded.
func (c *Core) DirectURL(ctx context.Context, rec meta.File, ttl time.Duration) (string, bool, error) {
	if c.presign == nil {
		return "", false, nil
	}
	u, err := c.presign.PresignPut(ctx, keys.StagingDir(rec.Tenant, rec.ID)+uuid.NewString(), ttl)
	return u, true, err
}

// Get returns tenant's file id, or ErrNotFound.
func (c *Core) Get(ctx context.Context, tenant, id string) (meta.File, error) {
	f, err := c.meta.Get(ctx, tenant, id)
	return f, notFound(err)
}

// Find returns tenant's files whose id is in ids or whose hash is in hashes.
func (c *Core) Find(ctx context.Context, tenant string, ids, hashes []string) ([]meta.File, error) {
	return c.meta.Find(ctx, tenant, ids, hashes)
}

// List returns one page of tenant's files, newest first.
func (c *Core) List(ctx context.Context, tenant string, q meta.ListQuery) ([]meta.File, error) {
	return c.meta.List(ctx, tenant, q)
}

// Delete removes tenant's file id and then its content, and returns the
// record as it was. Content a failed removal leaves behind has no record
// any more, and the sweeper removes it.
func (c *Core) Delete(ctx context.Context, tenant, id string) (meta.File, error) {
	f, err := c.meta.Delete(ctx, tenant, id)
	if err != nil {
		return f, notFound(err)
	}
	c.hub.publish(f.ID)
	if err := c.removeContent(context.WithoutCancel(ctx), f); err != nil {
		c.cfg.Logger.Warn("content left for the sweeper", "id", f.ID, "err", err)
	}
	return f, nil
}

// removeContent deletes whatever content, staged objects and multipart
// uploads f had.
func (c *Core) removeContent(ctx context.Context, f meta.File) error {
	err := c.blobs.Delete(ctx, keys.Content(f))
	if c.presign != nil {
		lerr := c.blobs.List(ctx, keys.StagingDir(f.Tenant, f.ID), func(i blob.Info) error {
			return c.blobs.Delete(ctx, i.Key)
		})
		err = errors.Join(err, lerr)
	}
	return errors.Join(err, c.parts.removeAll(ctx, f))
}
