package ingest

import "context"

// hashFirst fails with ErrHashFirst when tenant has an uploaded file of
// exactly size bytes: content of that size may be there already, and a
// client about to send it before its hash is known is to hash it first
// and go the way that finds known content without a byte sent, which
// instead says. Content of a size the tenant has no uploaded file of
// cannot be known content (unless it arrives meanwhile by another way,
// which the finish dedups).
func (c *Core) hashFirst(ctx context.Context, tenant string, size int64, instead string) error {
	has, err := c.meta.HasSize(ctx, tenant, size)
	if err != nil {
		return err
	}
	if has {
		return failf(ErrHashFirst, "you have an uploaded file of %d bytes, so this content may be there already: %s", size, instead)
	}
	return nil
}

// hashAndCreate is what a client told to hash first does on the contract's way.
const hashAndCreate = "hash the file and create it (POST /api/v0/file), which sends nothing the server has"
