package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/internal/sha256chain"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// relayedParts keeps uploads as multipart uploads of the store, as
// directParts does, but has their parts sent through the server, which
// relays each to the store (blob.PartStreamer) while it hashes it: a
// chained part continues the whole's hash from where the part before it
// ended, as on the local store. Every part the store holds was then
// checked on its way, and when the parts chain from the first byte to the
// last, the last one's check is the SHA-256 of the whole: the object need
// not be read back, which on S3 (no SHA-256 of a multipart object) is the
// only other way to know it.
//
// What the server checked of a part is recorded after the store took it,
// in the name of an object under keys.PartRecords (number, ETag, chaining
// values, the store's checksum of the bytes sent). The store keeps the
// last write of a part number. A writer removes the number's records,
// sends the part, and records it once the store has it, even if its
// client has gone meanwhile; one writer of a number at a time in a
// process. A writer cut off between the two (the process died) leaves no
// record, and the part is sent again. A record stands for a part only
// when it has the ETag the store lists and no other record of the number
// with that ETag says otherwise: writers of one number on two replicas at
// once leave a record each, and the store's ETag tells which write it
// kept. ETags are MD5s, which a client can make collide; a part written
// twice at once with colliding bytes leaves two records that disagree,
// and so none that stands, unless the process of one died between the
// store's answer and its record (a client that goes once it has sent the
// last byte does not stop that: the part goes on to the store and to its
// record without it). On complete the store compares what it
// assembled with the checksums of the bytes relayed (CompleteStreamed,
// CRC64NVME on S3): if it cannot confirm them, the object is read back
// and hashed as a direct upload's is.
//
// With direct set (--s3-parts direct), new uploads are direct ones. Every
// upload keeps the way it began, told by the relay flag of its token, so
// that uploads begun before a change of the setting, or on a replica set
// otherwise, go on as they began: a direct one with its parts straight to
// the store and its object read back, a relayed one through the server.
type relayedParts struct {
	directParts
	s      blob.PartStreamer
	direct bool // new uploads are direct
}

func (r relayedParts) chained() bool { return !r.direct }

func (relayedParts) chainedFor(tok uploadToken) bool { return tok.relay }

func (r relayedParts) start(ctx context.Context, rec meta.File, plan uploadToken) (session, error) {
	if r.direct {
		return r.directParts.start(ctx, rec, plan)
	}
	plan.relay = true
	return r.startWith(ctx, rec, plan, r.s.CreateStreamed)
}

// partURL is empty for a relayed upload: its parts go through the server.
func (r relayedParts) partURL(ctx context.Context, rec meta.File, sess session, p blob.Part, exp time.Time) (string, map[string]string, error) {
	if sess.tok.relay {
		return "", nil, nil
	}
	return r.directParts.partURL(ctx, rec, sess, p, exp)
}

// createPart starts relaying part p of rec's upload tok to the store.
func (r relayedParts) createPart(ctx context.Context, rec meta.File, tok uploadToken, p blob.Part) (blob.Writer, error) {
	if !tok.relay {
		return nil, ErrNotIssued
	}
	sess, found, err := r.session(ctx, rec, tok)
	switch {
	case err != nil:
		return nil, err
	case !found:
		return nil, ErrUploadNotFound
	}
	off := int64(p.Number-1) * tok.partSize
	last := off+p.Size == tok.size
	h := sha256.New()
	if p.From != "" {
		if !last && (off+p.Size)%sha256chain.BlockSize != 0 {
			return nil, failf(ErrInvalidParts, "part %d is chained but does not end at a multiple of 64 bytes", p.Number)
		}
		if h, err = sha256chain.Resume(p.From, off); err != nil {
			return nil, failf(ErrInvalidParts, "part %d: %v", p.Number, err)
		}
	}
	dir := keys.PartRecords(rec.Tenant, rec.ID, tok.String())
	lockd, err := r.c.locks.Lock(ctx, dir+strconv.Itoa(p.Number))
	if err != nil {
		return nil, err
	}
	unlock := sync.OnceFunc(lockd)
	if err := r.dropRecords(ctx, rec, tok, p.Number); err != nil {
		unlock()
		return nil, err
	}
	pw, err := r.s.WritePart(ctx, sess.key, sess.storeID, p.Number, p.Size)
	if err != nil {
		unlock()
		return nil, err
	}
	w := &relayWriter{pw: pw, h: h, p: p, last: last, unlock: unlock}
	w.save = func(ctx context.Context, stored blob.Part) error {
		pr := partRecord{number: p.Number, etag: stored.ETag, from: p.From, to: p.SHA256, check: stored.Check}
		return putObject(ctx, r.c.blobs, dir+pr.name(), nil)
	}
	return w, nil
}

// parts lists the parts the store holds; for a relayed upload, each with
// what its record says the server checked of it (SHA256, From, Check),
// when one record stands for it.
func (r relayedParts) parts(ctx context.Context, rec meta.File, sess session) ([]blob.Part, error) {
	stored, err := r.directParts.parts(ctx, rec, sess)
	if err != nil || !sess.tok.relay {
		return stored, err
	}
	recs, err := r.records(ctx, rec, sess.tok)
	if err != nil {
		return nil, err
	}
	for i, p := range stored {
		if pr, ok := standsFor(recs[p.Number], p.ETag); ok {
			stored[i].SHA256, stored[i].From, stored[i].Check = pr.to, pr.from, pr.check
		}
	}
	return stored, nil
}

// complete completes a relayed upload with the store's check of what it
// assembled; when that holds and the parts chain from the first byte to
// the last, the whole's SHA-256 is known without a read.
func (r relayedParts) complete(ctx context.Context, rec meta.File, sess session, parts []blob.Part) (meta.File, error) {
	if !sess.tok.relay {
		return r.directParts.complete(ctx, rec, sess, parts)
	}
	var intact bool
	finish := func(ctx context.Context) (string, error) {
		etag, ok, err := r.s.CompleteStreamed(ctx, sess.key, sess.storeID, parts)
		intact = ok
		return etag, err
	}
	verify := func(ctx context.Context, rec meta.File, etag string) (meta.File, error) {
		if sum, ok := chainSum(parts); ok && intact {
			return r.c.settleContent(ctx, rec, etag, sum, sess.tok.size)
		}
		return r.c.verifyContent(ctx, rec, etag)
	}
	return r.completeWith(ctx, rec, sess, finish, verify)
}

// chainSum returns the SHA-256 of the whole that parts (one per number, in
// order) make when each was checked continuing from where the one before
// it ended, the first from the start; or when the whole is one part,
// checked on its own.
func chainSum(parts []blob.Part) (string, bool) {
	if len(parts) == 1 && parts[0].Number == 1 && parts[0].From == "" && parts[0].SHA256 != "" && parts[0].Check != "" {
		return parts[0].SHA256, true
	}
	from := sha256chain.IV
	for _, p := range parts {
		if p.From != from || p.SHA256 == "" || p.Check == "" {
			return "", false
		}
		from = p.SHA256
	}
	return from, len(parts) > 0
}

// forget removes tok's marker and its part records.
func (r relayedParts) forget(ctx context.Context, rec meta.File, tok uploadToken) error {
	return errors.Join(r.dropRecords(ctx, rec, tok, 0), r.directParts.forget(ctx, rec, tok))
}

func (r relayedParts) abort(ctx context.Context, rec meta.File, sess session) error {
	return errors.Join(r.directParts.abort(ctx, rec, sess), r.dropRecords(ctx, rec, sess.tok, 0))
}

// dropRecords removes the records of part number of rec's upload tok, or
// of every part when number is 0.
func (r relayedParts) dropRecords(ctx context.Context, rec meta.File, tok uploadToken, number int) error {
	if !tok.relay {
		return nil
	}
	dir := keys.PartRecords(rec.Tenant, rec.ID, tok.String())
	prefix := dir
	if number != 0 {
		prefix += strconv.Itoa(number) + "." // a record's name begins with its number
	}
	var names []string
	err := r.c.blobs.List(ctx, prefix, func(i blob.Info) error {
		if pr, ok := parsePartRecord(strings.TrimPrefix(i.Key, dir)); number == 0 || ok && pr.number == number {
			names = append(names, i.Key)
		}
		return nil
	})
	for _, k := range names {
		err = errors.Join(err, r.c.blobs.Delete(ctx, k))
	}
	return err
}

// records reads the part records of rec's upload tok, by part number.
func (r relayedParts) records(ctx context.Context, rec meta.File, tok uploadToken) (map[int][]partRecord, error) {
	dir := keys.PartRecords(rec.Tenant, rec.ID, tok.String())
	out := map[int][]partRecord{}
	err := r.c.blobs.List(ctx, dir, func(i blob.Info) error {
		if pr, ok := parsePartRecord(strings.TrimPrefix(i.Key, dir)); ok {
			out[pr.number] = append(out[pr.number], pr)
		}
		return nil
	})
	return out, err
}

// relayWriter hashes a part on its way to the store and lets the store
// keep it only if it is what the part was declared to be.
type relayWriter struct {
	pw     blob.PartWriter
	unlock func() // lets go of the part's lock
	h      hash.Hash
	p      blob.Part
	last   bool // the part ends the object: its check is the whole's SHA-256
	n      int64
	save   func(context.Context, blob.Part) error // records the part, once stored
}

func (w *relayWriter) Write(b []byte) (int, error) {
	n, err := w.pw.Write(b)
	w.h.Write(b[:n])
	w.n += int64(n)
	return n, gone(err)
}

// gone turns the store's word that the upload is not there (aborted, or
// completed meanwhile) into ErrUploadNotFound: sending the part again
// cannot help.
func gone(err error) error {
	if errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("%w (%v)", ErrUploadNotFound, err)
	}
	return err
}

// Commit lets the store keep the part if it is exactly p.Size bytes that
// hash to p.SHA256 (chained: continue from p.From to it), then records it.
// Once the last byte may have reached the store, it goes on to the end
// even if ctx (its client's request) ends: a part the store took is
// recorded, not left to be sent again.
func (w *relayWriter) Commit(ctx context.Context) error {
	defer w.unlock()
	if got := w.check(); w.n != w.p.Size || got != w.p.SHA256 {
		w.pw.Abort()
		return fmt.Errorf("part %d: %d bytes hashing to %s, not %d hashing to %s: %w", w.p.Number, w.n, got, w.p.Size, w.p.SHA256, blob.ErrPartMismatch)
	}
	ctx = context.WithoutCancel(ctx)
	sctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := w.pw.Commit(sctx); err != nil {
		return gone(err)
	}
	rctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	return w.save(rctx, w.pw.Part())
}

// storeTimeout bounds the store's answer to a relayed part once its client
// has sent it all; recordTimeout, the record of it.
const (
	storeTimeout  = 2 * time.Minute
	recordTimeout = 30 * time.Second
)

func (w *relayWriter) Abort() error {
	defer w.unlock()
	return w.pw.Abort()
}

// check is what the bytes written hash to: their SHA-256, or for a chained
// part that does not end the object, the chaining value after them.
func (w *relayWriter) check() string {
	if w.p.From != "" && !w.last {
		v, _ := sha256chain.Value(w.h) // at a block: createPart checked the part's end
		return v
	}
	return hex.EncodeToString(w.h.Sum(nil))
}

// partRecord is what the server checked of one part it relayed: the part
// the store answered (its number and ETag, the store's checksum of the
// bytes sent) hashes from chaining value from (empty: the part was
// checked on its own) to to.
type partRecord struct {
	number          int
	etag            string
	from, to, check string
}

// name writes the record as an object name: its fields hex-encoded where
// they are the store's, joined by dots.
func (pr partRecord) name() string {
	from := pr.from
	if from == "" {
		from = "-"
	}
	return strings.Join([]string{strconv.Itoa(pr.number), etagField(pr.etag), from, pr.to, hex.EncodeToString([]byte(pr.check))}, ".")
}

// parsePartRecord reads a record's name.
func parsePartRecord(name string) (partRecord, bool) {
	f := strings.Split(name, ".")
	if len(f) != 5 {
		return partRecord{}, false
	}
	n, err := strconv.Atoi(f[0])
	etag, err1 := hex.DecodeString(f[1])
	check, err2 := hex.DecodeString(f[4])
	if err != nil || err1 != nil || err2 != nil || n < 1 {
		return partRecord{}, false
	}
	pr := partRecord{number: n, etag: string(etag), from: f[2], to: f[3], check: string(check)}
	if pr.from == "-" {
		pr.from = ""
	}
	return pr, true
}

// etagField is an ETag as a record holds it: without quotes, hex-encoded.
func etagField(etag string) string { return hex.EncodeToString([]byte(strings.Trim(etag, `"`))) }

// standsFor returns the one record among recs of the part the store lists
// with etag; none when no record has that ETag, or records with that ETag
// disagree on what the part was.
func standsFor(recs []partRecord, etag string) (partRecord, bool) {
	var found partRecord
	ok := false
	for _, pr := range recs {
		if etagField(pr.etag) != etagField(etag) {
			continue
		}
		if ok && (pr.from != found.from || pr.to != found.to || pr.check != found.check) {
			return partRecord{}, false
		}
		found, ok = pr, true
	}
	return found, ok
}
