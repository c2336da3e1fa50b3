// Package sign makes and checks the HMACs that bind upload URLs and upload ids to exactly what they were issued for.
package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// Errors of a check: the signature does not match, or it did but has expired.
var (
	ErrInvalid = errors.New("sign: signature does not match")
	ErrExpired = errors.New("sign: expired")
)

// Signer issues and checks signatures under one key, the same on every replica.
type Signer struct{ key []byte }

// New returns a Signer with key.
func New(key []byte) Signer { return Signer{key: key} }

// MAC is the HMAC of fields under a domain that names what is signed, so
// that a signature for one kind of thing never checks as another kind.
func (s Signer) MAC(domain string, fields ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(domain))
	// Each field is length-prefixed, so no field's bytes can be read as part
	// of another (a separator could appear inside the id, which comes from the
	// URL path, or inside a tenant name).
	for _, f := range fields {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return m.Sum(nil)
}

func (s Signer) uploadMAC(tenant, id, hash string, exp int64) []byte {
	return s.MAC("perseus-upload-v2", tenant, id, hash, strconv.FormatInt(exp, 10))
}

// UploadQuery returns the query string of the URL that takes the content of
// file id of tenant, hashing to hash, until exp: it names all four and
// carries an HMAC over them, so it is bound to that one record and content.
func (s Signer) UploadQuery(tenant, id, hash string, exp time.Time) string {
	e := exp.Unix()
	v := url.Values{}
	v.Set("tenant", tenant)
	v.Set("hash", hash)
	v.Set("expires", strconv.FormatInt(e, 10))
	v.Set("sig", base64.RawURLEncoding.EncodeToString(s.uploadMAC(tenant, id, hash, e)))
	return v.Encode()
}

// CheckUpload verifies the signature in q for file id, then its expiry at
// now; it returns the signed tenant and hash.
func (s Signer) CheckUpload(id string, q url.Values, now time.Time) (tenant, hash string, err error) {
	tenant, hash = q.Get("tenant"), q.Get("hash")
	exp, perr := strconv.ParseInt(q.Get("expires"), 10, 64)
	sig, derr := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if perr != nil || derr != nil || !hmac.Equal(sig, s.uploadMAC(tenant, id, hash, exp)) {
		return "", "", ErrInvalid
	}
	if now.Unix() > exp {
		return "", "", ErrExpired
	}
	return tenant, hash, nil
}

// Part is what a part upload URL is signed for: one part, of one multipart
// upload, of one file record and its content.
type Part struct {
	Tenant, Hash string // the record's tenant and sourceHash
	Upload       string // the multipart uploadId
	Number       int    // the part number, from 1
	Size         int64  // the part's exact length
	SHA256       string // the hex SHA-256 the part's bytes must hash to (chained: the chaining value after them)
	From         string // a chained part's chaining value before it; empty otherwise
}

func (s Signer) partMAC(id string, c Part, exp int64) []byte {
	return s.MAC("perseus-part-v2", c.Tenant, id, c.Hash, c.Upload, strconv.Itoa(c.Number),
		strconv.FormatInt(c.Size, 10), c.SHA256, c.From, strconv.FormatInt(exp, 10))
}

// PartQuery returns the query string of the URL of part c of file id, valid
// until exp.
func (s Signer) PartQuery(id string, c Part, exp time.Time) string {
	e := exp.Unix()
	v := url.Values{}
	v.Set("tenant", c.Tenant)
	v.Set("hash", c.Hash)
	v.Set("upload", c.Upload)
	v.Set("size", strconv.FormatInt(c.Size, 10))
	v.Set("sha256", c.SHA256)
	if c.From != "" {
		v.Set("from", c.From)
	}
	v.Set("expires", strconv.FormatInt(e, 10))
	v.Set("sig", base64.RawURLEncoding.EncodeToString(s.partMAC(id, c, e)))
	return v.Encode()
}

// CheckPart verifies the signature in q for part (from the URL path) of
// file id, then its expiry at now, and returns what the URL was signed for.
func (s Signer) CheckPart(id, part string, q url.Values, now time.Time) (Part, error) {
	c := Part{Tenant: q.Get("tenant"), Hash: q.Get("hash"), Upload: q.Get("upload"), SHA256: q.Get("sha256"), From: q.Get("from")}
	n, nerr := strconv.Atoi(part)
	size, serr := strconv.ParseInt(q.Get("size"), 10, 64)
	exp, perr := strconv.ParseInt(q.Get("expires"), 10, 64)
	sig, derr := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if nerr != nil || serr != nil || perr != nil || derr != nil || strconv.Itoa(n) != part {
		return Part{}, ErrInvalid
	}
	c.Number, c.Size = n, size
	if !hmac.Equal(sig, s.partMAC(id, c, exp)) {
		return Part{}, ErrInvalid
	}
	if now.Unix() > exp {
		return Part{}, ErrExpired
	}
	return c, nil
}
