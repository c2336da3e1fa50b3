package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// ClaimAll implements meta.Store in one statement (so one round trip, one
// transaction, one commit): one INSERT … ON CONFLICT of every distinct
// (tenant, hash) given, then the file.created events of the records it
// inserted, in the order the files were given (see withEvent for why
// their Seqs commit in order), which notices announces once committed.
//
// Locks are taken in one order, so that concurrent ClaimAlls, and Claims
// and the other changes, never deadlock: the records in (tenant, hash)
// order, each once (PostgreSQL would refuse to update one row twice in a
// statement: of several files of one hash, the first given makes or finds
// the record, and the others get it), then, once every record is locked,
// the tenants' event counters in the order of the tenants' names, each
// once, incremented by the number of records of the tenant inserted.
// Inserted is told by xmax, as in Claim; Created, as ClaimAll has always
// said it, by id (so a later file of a hash, with an id of its own, was
// not created).
func (s *Store) ClaimAll(ctx context.Context, files []meta.File) ([]meta.Claimed, error) {
	if len(files) == 0 {
		return []meta.Claimed{}, nil
	}
	type key struct{ tenant, hash string }
	first := make(map[key]int, len(files)) // the index of the first file of each (tenant, hash)
	var ids, tenants, names, hashes, kinds []string
	var created []time.Time
	var claims []int // the index of the file of each claim made
	t := now()
	for i, f := range files {
		k := key{f.Tenant, f.SourceHash}
		if _, dup := first[k]; dup {
			continue
		}
		first[k] = i
		claims = append(claims, i)
		ids, tenants, names, hashes = append(ids, f.ID), append(tenants, f.Tenant), append(names, f.Name), append(hashes, f.SourceHash)
		kinds = append(kinds, string(cmp.Or(f.Kind, meta.KindHashed)))
		if f.CreatedAt.IsZero() {
			f.CreatedAt = t
		}
		created = append(created, f.CreatedAt.UTC())
	}
	rows, err := s.pool.Query(ctx, claimAllSQL, ids, tenants, names, hashes, created, kinds, t)
	if err != nil {
		return nil, wrap("claim all", err)
	}
	defer rows.Close()
	recs := make([]meta.File, len(claims))
	var seqs []eventNote // the events the claims made, announced once all is read (and so committed)
	got := 0
	for rows.Next() {
		var ord int64
		var seq *int64
		rec, err := scanFile(rows, &ord, &seq)
		if err != nil {
			return nil, wrap("claim all", err)
		}
		if seq != nil {
			seqs = append(seqs, eventNote{rec.Tenant, *seq})
		}
		if ord < 1 || ord > int64(len(claims)) {
			return nil, wrap("claim all", fmt.Errorf("answer for claim %d of %d", ord, len(claims)))
		}
		recs[ord-1] = rec
		got++
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("claim all", err)
	}
	if got != len(claims) {
		return nil, wrap("claim all", fmt.Errorf("%d answers for %d claims", got, len(claims)))
	}
	slices.SortFunc(seqs, func(a, b eventNote) int { return cmp.Compare(a.seq, b.seq) })
	for _, n := range seqs {
		s.notices.add(n.tenant, n.seq)
	}
	byFirst := make(map[int]meta.File, len(claims))
	for j, i := range claims {
		byFirst[i] = recs[j]
	}
	out := make([]meta.Claimed, len(files))
	for i, f := range files {
		rec := byFirst[first[key{f.Tenant, f.SourceHash}]]
		out[i] = meta.Claimed{Rec: rec, Created: rec.ID == f.ID}
	}
	return out, nil
}

// claimAllSQL is ClaimAll's statement: $1 to $6 the ids, tenants, names,
// hashes, creation times and kinds of the claims, one (tenant, hash)
// each, $7 the time. Its answer is each claim's record (fileCols), the
// claim's number (1 for the first given), and the Seq of its event (NULL
// when it inserted nothing).
var claimAllSQL = `
WITH v AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
		WITH ORDINALITY AS v (id, tenant, name, source_hash, created_at, kind, ord)
),
c AS (
	INSERT INTO files AS f (` + fileCols + `)
	SELECT id, tenant, name, source_hash, 'pending', 0, '', created_at, $7, kind FROM v ORDER BY tenant, source_hash
	ON CONFLICT (tenant, source_hash) DO UPDATE SET ` + claimUpdate + `
	RETURNING ` + fileCols + `, (xmax = 0) AS inserted
),
k AS (
	SELECT c.*, v.ord FROM c JOIN v ON v.tenant = c.tenant AND v.source_hash = c.source_hash
),
s AS (
	INSERT INTO event_seq AS q (tenant, last)
	SELECT tenant, count(*) FROM c WHERE inserted GROUP BY tenant ORDER BY tenant
	ON CONFLICT (tenant) DO UPDATE SET last = q.last + excluded.last
	RETURNING tenant, last
),
e AS (
	INSERT INTO events (` + eventCols + `)
	SELECT s.last - count(*) OVER t + row_number() OVER (t ORDER BY k.ord), k.tenant, '` + string(meta.EventCreated) + `',
		k.updated_at, ` + eventFileCols("k") + `
	FROM k JOIN s ON s.tenant = k.tenant WHERE k.inserted
	WINDOW t AS (PARTITION BY k.tenant)
	RETURNING file_id, seq
)
SELECT k.id, k.tenant, k.name, k.source_hash, k.status, k.size, k.reason, k.created_at, k.updated_at, k.kind,
	k.ord, e.seq
FROM k LEFT JOIN e ON e.file_id = k.id`
