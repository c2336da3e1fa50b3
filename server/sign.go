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
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("perseus-upload-v2"))
	// Each field is length-prefixed, so no field's bytes can be read as part
	// of another (a separator could appear inside the id, which comes from the
	// URL path, or inside a tenant name).
	for _, f := range []string{tenant, id, hash, strconv.FormatInt(exp, 10)} {
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
