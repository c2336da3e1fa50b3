// Package sign makes and checks the HMACs that bind upload and download URLs and upload ids to exactly what they were issued for.
package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors of a check: the signature does not match, it did but has expired,
// or it names a key the Signer does not have (an *UnknownKeyError).
var (
	ErrInvalid    = errors.New("sign: signature does not match")
	ErrExpired    = errors.New("sign: expired")
	ErrUnknownKey = errors.New("sign: signed with a key this server does not have")
)

// UnknownKeyError is a signature made with a key this Signer does not have:
// most often a replica started with another --signing-key than the one that
// issued it. ID is the key's id; Other, when set, is the fingerprint of this
// Signer's own key of that id, whose secret is another one.
type UnknownKeyError struct {
	ID, Fingerprint string
	Other           string
}

func (e *UnknownKeyError) Error() string {
	if e.Other != "" {
		return fmt.Sprintf("signed with signing key %q of fingerprint %s; this server's key %q has fingerprint %s", e.ID, e.Fingerprint, e.ID, e.Other)
	}
	return fmt.Sprintf("signed with signing key %q, which this server does not have", e.ID)
}

// Is makes an UnknownKeyError match ErrUnknownKey.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// Message says to a person what went wrong and how to mend it.
func (e *UnknownKeyError) Message() string {
	if e.Other != "" {
		return fmt.Sprintf("this was signed with signing key %q (fingerprint %s), but this server's key %q has another secret (fingerprint %s): every replica must be started with the same --signing-key secrets", e.ID, e.Fingerprint, e.ID, e.Other)
	}
	return fmt.Sprintf("this was signed with signing key %q, which this server does not have: every replica must be started with the same --signing-key list (the first signs, all are accepted)", e.ID)
}

// Key is one signing key: an ID, named beside what it signs so that a
// check knows which key to use (empty for the key of a lone server), and a
// secret of at least MinSecret bytes.
type Key struct {
	ID     string
	Secret []byte
}

// MinSecret is the shortest secret a Key may have.
const MinSecret = 32

// CheckID reports whether id may name a key: 1 to 32 letters, digits or
// underscores, so that it fits in URLs and object keys as it is.
func CheckID(id string) error {
	if len(id) == 0 || len(id) > 32 {
		return fmt.Errorf("a signing key id must be 1 to 32 characters, not %d", len(id))
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_') {
			return fmt.Errorf("signing key id %q: only letters, digits and _ are allowed", id)
		}
	}
	return nil
}

// Signer signs with the first of its keys and accepts a signature of any of
// them, so that keys can be rotated across a fleet.
type Signer struct {
	keys []Key
	tags []string // how each key is named beside what it signs (tag)
}

// New returns a Signer with one key without an ID: what a lone server
// uses, and what tests use.
func New(secret []byte) Signer { return Signer{keys: []Key{{Secret: secret}}, tags: []string{""}} }

// fingerprint names a secret without saying anything of it.
func fingerprint(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("perseus-signing-key-fingerprint"))
	return hex.EncodeToString(m.Sum(nil)[:4])
}

// tag is how k is named beside what it signs: its ID and the fingerprint
// of its secret, ID_0123abcd, so that a replica with a key of the same ID
// but another secret says so instead of finding the signature invalid;
// empty for a key without an ID.
func tag(k Key) string {
	if k.ID == "" {
		return ""
	}
	return k.ID + "_" + fingerprint(k.Secret)
}

// CheckTag reports whether t may be the tag of a key (a key id, "_" and 8
// hex digits).
func CheckTag(t string) error {
	i := strings.LastIndexByte(t, '_')
	if i < 0 || len(t)-i-1 != 8 {
		return fmt.Errorf("%q is not a signing key tag", t)
	}
	if _, err := hex.DecodeString(t[i+1:]); err != nil {
		return fmt.Errorf("%q is not a signing key tag", t)
	}
	return CheckID(t[:i])
}

// NewKeys returns a Signer with keys, the first of which signs. Every key
// has an ID of its own (CheckID) and a secret of at least MinSecret bytes.
func NewKeys(keys ...Key) (Signer, error) {
	if len(keys) == 0 {
		return Signer{}, errors.New("no signing key")
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if err := CheckID(k.ID); err != nil {
			return Signer{}, err
		}
		if len(k.Secret) < MinSecret {
			return Signer{}, fmt.Errorf("signing key %q: the secret is %d bytes; it must be at least %d", k.ID, len(k.Secret), MinSecret)
		}
		if seen[k.ID] {
			return Signer{}, fmt.Errorf("signing key %q is given twice", k.ID)
		}
		seen[k.ID] = true
	}
	s := Signer{keys: append([]Key(nil), keys...)}
	for _, k := range s.keys {
		s.tags = append(s.tags, tag(k))
	}
	return s, nil
}

// SigningID is the tag of the key that signs (empty for a key without an
// ID): its ID and the fingerprint of its secret.
func (s Signer) SigningID() string { return s.tags[0] }

// MAC is the HMAC, under the signing key, of fields under a domain that
// names what is signed, so that a signature for one kind of thing never
// checks as another kind.
func (s Signer) MAC(domain string, fields ...string) []byte {
	return macOf(s.keys[0].Secret, domain, fields...)
}

// Verify checks that sig is the MAC of fields under domain by the key tagged
// id (SigningID), or when id is empty by any key: ErrInvalid if it is not,
// an *UnknownKeyError if no key has that tag.
func (s Signer) Verify(id string, sig []byte, domain string, fields ...string) error {
	return s.verify(id, sig, false, domain, fields...)
}

// VerifyPrefix is Verify for a signature cut to its first len(sig) bytes,
// at least 16: for ids that carry a shorter signature (multipart uploadIds).
func (s Signer) VerifyPrefix(id string, sig []byte, domain string, fields ...string) error {
	if len(sig) < 16 || len(sig) > sha256.Size {
		return ErrInvalid
	}
	return s.verify(id, sig, true, domain, fields...)
}

func (s Signer) verify(id string, sig []byte, prefix bool, domain string, fields ...string) error {
	for i, k := range s.keys {
		if id != "" && s.tags[i] != id {
			continue
		}
		mac := macOf(k.Secret, domain, fields...)
		if prefix {
			mac = mac[:len(sig)]
		}
		if hmac.Equal(sig, mac) {
			return nil
		}
		if id != "" {
			return ErrInvalid
		}
	}
	if id != "" {
		return s.unknown(id)
	}
	return ErrInvalid
}

// unknown is the error for a signature of the key tagged t, which s lacks.
func (s Signer) unknown(t string) error {
	e := &UnknownKeyError{ID: t}
	if i := strings.LastIndexByte(t, '_'); CheckTag(t) == nil {
		e.ID, e.Fingerprint = t[:i], t[i+1:]
	}
	for _, k := range s.keys {
		if k.ID == e.ID {
			e.Other = fingerprint(k.Secret)
		}
	}
	return e
}

func macOf(secret []byte, domain string, fields ...string) []byte {
	m := hmac.New(sha256.New, secret)
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

func uploadFields(tenant, id, hash string, exp int64) []string {
	return []string{tenant, id, hash, strconv.FormatInt(exp, 10)}
}

const uploadDomain, partDomain, downloadDomain = "perseus-upload-v2", "perseus-part-v2", "perseus-download-v1"

// setKey names the signing key in v, where it has a name.
func (s Signer) setKey(v url.Values) {
	if id := s.SigningID(); id != "" {
		v.Set("kid", id)
	}
}

// UploadQuery returns the query string of the URL that takes the content of
// file id of tenant, hashing to hash, until exp: it names all four and
// carries an HMAC over them, so it is bound to that one record and content.
func (s Signer) UploadQuery(tenant, id, hash string, exp time.Time) string {
	return s.fileQuery(uploadDomain, tenant, id, hash, exp)
}

// CheckUpload verifies the signature in q for file id, then its expiry at
// now; it returns the signed tenant and hash.
func (s Signer) CheckUpload(id string, q url.Values, now time.Time) (tenant, hash string, err error) {
	return s.checkFile(uploadDomain, id, q, now)
}

// DownloadQuery returns the query string of the URL that serves the content
// of file id of tenant, hashing to hash, until exp, as UploadQuery does for
// an upload: the two never verify as each other.
func (s Signer) DownloadQuery(tenant, id, hash string, exp time.Time) string {
	return s.fileQuery(downloadDomain, tenant, id, hash, exp)
}

// CheckDownload verifies the signature in q for file id, then its expiry at
// now; it returns the signed tenant and hash.
func (s Signer) CheckDownload(id string, q url.Values, now time.Time) (tenant, hash string, err error) {
	return s.checkFile(downloadDomain, id, q, now)
}

// fileQuery is the signed query of a URL of domain for one record and content.
func (s Signer) fileQuery(domain, tenant, id, hash string, exp time.Time) string {
	e := exp.Unix()
	v := url.Values{}
	v.Set("tenant", tenant)
	v.Set("hash", hash)
	v.Set("expires", strconv.FormatInt(e, 10))
	s.setKey(v)
	v.Set("sig", base64.RawURLEncoding.EncodeToString(s.MAC(domain, uploadFields(tenant, id, hash, e)...)))
	return v.Encode()
}

// checkFile verifies a query fileQuery made for domain and id, then its expiry.
func (s Signer) checkFile(domain, id string, q url.Values, now time.Time) (tenant, hash string, err error) {
	tenant, hash = q.Get("tenant"), q.Get("hash")
	exp, perr := strconv.ParseInt(q.Get("expires"), 10, 64)
	sig, derr := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if perr != nil || derr != nil {
		return "", "", ErrInvalid
	}
	if err := s.Verify(q.Get("kid"), sig, domain, uploadFields(tenant, id, hash, exp)...); err != nil {
		return "", "", err
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

func partFields(id string, c Part, exp int64) []string {
	return []string{c.Tenant, id, c.Hash, c.Upload, strconv.Itoa(c.Number),
		strconv.FormatInt(c.Size, 10), c.SHA256, c.From, strconv.FormatInt(exp, 10)}
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
	s.setKey(v)
	v.Set("sig", base64.RawURLEncoding.EncodeToString(s.MAC(partDomain, partFields(id, c, e)...)))
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
	if err := s.Verify(q.Get("kid"), sig, partDomain, partFields(id, c, exp)...); err != nil {
		return Part{}, err
	}
	if now.Unix() > exp {
		return Part{}, ErrExpired
	}
	return c, nil
}
