package ingest

import (
	"context"

	"github.com/google/uuid"
	"github.com/perseus-go/perseus/store/meta"
)

// Want is one file of CreateAll: a name, and the content's SHA-256 (lower-case hex).
type Want struct {
	Name, Hash string
}

// Outcome is what CreateAll did for one Want: what Create returns for it.
type Outcome struct {
	Rec     meta.File
	Created bool
	Err     error // ErrQuotaExceeded; Rec is then empty
}

// CreateAll is Create for each of wants, in order, with the metadata writes
// of all that fit in one store transaction (meta.Store.ClaimAll): one
// commit, where one Create each would make one each. An outcome per want,
// in order; the error is the store's, and then nothing was created.
//
// The files quota holds within the batch as it holds between Creates made
// one after the other: each want that would add a file counts against what
// the earlier ones left, and those beyond are ErrQuotaExceeded while the
// rest are created.
func (c *Core) CreateAll(ctx context.Context, tenant string, wants []Want) ([]Outcome, error) {
	out := make([]Outcome, len(wants))
	admitted, err := c.admit(ctx, tenant, wants, out)
	if err != nil {
		return nil, err
	}
	files := make([]meta.File, len(admitted))
	for j, i := range admitted {
		files[j] = meta.File{
			ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, Name: wants[i].Name, SourceHash: wants[i].Hash,
			Kind: meta.KindHashed, CreatedAt: now(),
		}
	}
	claimed, err := c.meta.ClaimAll(ctx, files)
	if err != nil {
		return nil, err
	}
	for j, i := range admitted {
		out[i] = Outcome{Rec: claimed[j].Rec, Created: claimed[j].Created}
	}
	return out, nil
}

// admit returns the indexes of the wants that fit the tenant's files
// quota, in order, and sets the Err of the others' outcomes. A want adds
// a file unless the tenant has a pending or uploaded record of its content
// (as roomForRecord counts), or an earlier want of the batch adds that
// content. It asks the store only when a files quota applies.
func (c *Core) admit(ctx context.Context, tenant string, wants []Want, out []Outcome) ([]int, error) {
	all := make([]int, len(wants))
	for i := range all {
		all[i] = i
	}
	q := c.cfg.QuotaFiles
	if q <= 0 || len(wants) == 0 {
		return all, nil
	}
	u, err := c.meta.Usage(ctx, tenant)
	if err != nil {
		return nil, err
	}
	hashes := make([]string, len(wants))
	for i, w := range wants {
		hashes[i] = w.Hash
	}
	have, err := c.meta.Find(ctx, tenant, nil, hashes)
	if err != nil {
		return nil, err
	}
	kept := map[string]bool{} // contents that hold a file: they add none
	for _, f := range have {
		if f.Status == meta.StatusPending || f.Status == meta.StatusUploaded {
			kept[f.SourceHash] = true
		}
	}
	admitted := make([]int, 0, len(wants))
	for i, w := range wants {
		if !kept[w.Hash] {
			if err := c.fits(u, true, -1); err != nil {
				out[i].Err = err
				continue
			}
			u.Files++
			kept[w.Hash] = true
		}
		admitted = append(admitted, i)
	}
	return admitted, nil
}
