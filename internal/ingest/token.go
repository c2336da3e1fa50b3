package ingest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/store/meta"
)

// uploadToken is a multipart uploadId as clients see it:
// "<size>-<partSize>-<kid>.<salt><mac>", or "<size>-<partSize>-<salt><mac>"
// when the signing key has no id (a lone server's).
type uploadToken struct {
	size, partSize int64
	kid            string // the id of the signing key, if it has one
	salt           string // 16 hex: random, or derived from the store's upload id (S3)
	mac            string // 32 hex: uploadMAC of the rest, for the record's tenant and id
}

const (
	saltLen = 16
	macLen  = 32
)

func (t uploadToken) String() string {
	kid := ""
	if t.kid != "" {
		kid = t.kid + "."
	}
	return fmt.Sprintf("%d-%d-%s%s%s", t.size, t.partSize, kid, t.salt, t.mac)
}

const tokenDomain = "perseus-multipart-v1"

// tokenFields are what an upload's MAC binds: its plan and salt, to one
// record of one tenant.
func tokenFields(tenant, id string, size, partSize int64, salt string) []string {
	return []string{tenant, id, strconv.FormatInt(size, 10), strconv.FormatInt(partSize, 10), salt}
}

// newToken makes the uploadId of an upload of rec with this plan; salt is
// random when empty.
func (c *Core) newToken(rec meta.File, size, partSize int64, salt string) uploadToken {
	if salt == "" {
		var b [saltLen / 2]byte
		rand.Read(b[:])
		salt = hex.EncodeToString(b[:])
	}
	m := c.cfg.Signer.MAC(tokenDomain, tokenFields(rec.Tenant, rec.ID, size, partSize, salt)...)
	return uploadToken{size: size, partSize: partSize, kid: c.cfg.Signer.SigningID(), salt: salt, mac: hex.EncodeToString(m[:macLen/2])}
}

// parseToken reads an uploadId of rec: ErrUploadNotFound for anything the
// core did not make for rec, and a *sign.UnknownKeyError (with the token
// as far as it could be read) for one signed with a key this server does
// not have.
func (c *Core) parseToken(rec meta.File, str string) (t uploadToken, err error) {
	f := strings.Split(str, "-")
	if len(f) != 3 {
		return t, ErrUploadNotFound
	}
	rest := f[2]
	if i := strings.LastIndexByte(rest, '.'); i >= 0 {
		t.kid, rest = rest[:i], rest[i+1:]
		if sign.CheckTag(t.kid) != nil {
			return t, ErrUploadNotFound
		}
	}
	var err1, err2 error
	t.size, err1 = strconv.ParseInt(f[0], 10, 64)
	t.partSize, err2 = strconv.ParseInt(f[1], 10, 64)
	mac, herr := hex.DecodeString(rest)
	if len(rest) != saltLen+macLen || rest != strings.ToLower(rest) || herr != nil || err1 != nil || err2 != nil || t.size <= 0 || t.partSize <= 0 {
		return t, ErrUploadNotFound
	}
	t.salt, t.mac = rest[:saltLen], rest[saltLen:]
	if t.String() != str {
		return t, ErrUploadNotFound
	}
	switch err := c.cfg.Signer.VerifyPrefix(t.kid, mac[saltLen/2:], tokenDomain, tokenFields(rec.Tenant, rec.ID, t.size, t.partSize, t.salt)...); {
	case errors.Is(err, sign.ErrUnknownKey):
		return t, err
	case err != nil:
		return t, ErrUploadNotFound
	}
	return t, nil
}

// tokenFor reads an uploadId of rec taken from a client: one the core made
// for rec, with a plan within the limits. The plan is checked again
// because the limits may have changed since the upload began, and nothing
// sized by the plan (part lists, files) may outgrow them.
func (c *Core) tokenFor(rec meta.File, str string) (uploadToken, error) {
	tok, err := c.parseToken(rec, str)
	if err != nil {
		return tok, err
	}
	if err := c.checkPlan(tok.size, tok.partSize); err != nil {
		return tok, err
	}
	return tok, nil
}

// count is how many parts the upload has.
func (t uploadToken) count() int { return int((t.size + t.partSize - 1) / t.partSize) }

// partLen is the length of part n.
func (t uploadToken) partLen(n int) int64 {
	return min(t.partSize, t.size-int64(n-1)*t.partSize)
}
