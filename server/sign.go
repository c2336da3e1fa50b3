package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/url"
	"strconv"
	"time"
)

// signer issues and checks upload URLs that point at this server. A URL names
// the tenant, file id, hash and expiry, and carries an HMAC over all four, so
// it is bound to the one record and content it was issued for.
type signer struct{ key []byte }

func (s signer) mac(tenant, id, hash string, exp int64) []byte {
	return s.macOf("perseus-upload-v2", tenant, id, hash, strconv.FormatInt(exp, 10))
}

// macOf is the HMAC of fields under a domain that names what is signed, so
// that a signature for one kind of URL never checks as another kind.
func (s signer) macOf(domain string, fields ...string) []byte {
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

// query returns the query string for an upload URL valid until exp.
func (s signer) query(tenant, id, hash string, exp time.Time) string {
	e := exp.Unix()
	v := url.Values{}
	v.Set("tenant", tenant)
	v.Set("hash", hash)
	v.Set("expires", strconv.FormatInt(e, 10))
	v.Set("sig", base64.RawURLEncoding.EncodeToString(s.mac(tenant, id, hash, e)))
	return v.Encode()
}

// check verifies the signature in q for id, then its expiry at now; it
// returns the signed tenant and hash.
func (s signer) check(id string, q url.Values, now time.Time) (tenant, hash string, err *Error) {
	tenant, hash = q.Get("tenant"), q.Get("hash")
	exp, perr := strconv.ParseInt(q.Get("expires"), 10, 64)
	sig, derr := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if perr != nil || derr != nil || !hmac.Equal(sig, s.mac(tenant, id, hash, exp)) {
		return "", "", ErrURLInvalid
	}
	if now.Unix() > exp {
		return "", "", ErrURLExpired
	}
	return tenant, hash, nil
}

// partClaims is what a part upload URL is signed for: one part, of one
// multipart upload, of one file record and its content.
type partClaims struct {
	tenant, hash string // the record's tenant and sourceHash
	upload       string // the multipart uploadId
	part         int    // the part number, from 1
	size         int64  // the part's exact length
	sha256       string // the hex SHA-256 the part's bytes must hash to (chained: the chaining value after them)
	from         string // a chained part's chaining value before it; empty otherwise
}

func (s signer) partMAC(id string, c partClaims, exp int64) []byte {
	return s.macOf("perseus-part-v2", c.tenant, id, c.hash, c.upload, strconv.Itoa(c.part),
		strconv.FormatInt(c.size, 10), c.sha256, c.from, strconv.FormatInt(exp, 10))
}

// partQuery returns the query string of the URL of part c.part of file id,
// valid until exp.
func (s signer) partQuery(id string, c partClaims, exp time.Time) string {
	e := exp.Unix()
	v := url.Values{}
	v.Set("tenant", c.tenant)
	v.Set("hash", c.hash)
	v.Set("upload", c.upload)
	v.Set("size", strconv.FormatInt(c.size, 10))
	v.Set("sha256", c.sha256)
	if c.from != "" {
		v.Set("from", c.from)
	}
	v.Set("expires", strconv.FormatInt(e, 10))
	v.Set("sig", base64.RawURLEncoding.EncodeToString(s.partMAC(id, c, e)))
	return v.Encode()
}

// checkPart verifies the signature in q for part (from the URL path) of file
// id, then its expiry at now, and returns what the URL was signed for.
func (s signer) checkPart(id, part string, q url.Values, now time.Time) (partClaims, *Error) {
	c := partClaims{tenant: q.Get("tenant"), hash: q.Get("hash"), upload: q.Get("upload"), sha256: q.Get("sha256"), from: q.Get("from")}
	n, nerr := strconv.Atoi(part)
	size, serr := strconv.ParseInt(q.Get("size"), 10, 64)
	exp, perr := strconv.ParseInt(q.Get("expires"), 10, 64)
	sig, derr := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if nerr != nil || serr != nil || perr != nil || derr != nil || strconv.Itoa(n) != part {
		return partClaims{}, ErrURLInvalid
	}
	c.part, c.size = n, size
	if !hmac.Equal(sig, s.partMAC(id, c, exp)) {
		return partClaims{}, ErrURLInvalid
	}
	if now.Unix() > exp {
		return partClaims{}, ErrURLExpired
	}
	return c, nil
}

// hmacEqualHex compares two hex MACs in constant time.
func hmacEqualHex(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }
