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
// when the signing key has no id (a lone server's); an open upload's
// (OpenMultipart: begun before its file has a record) starts with "o",
// and one whose parts come through the server to a store that could take
// them straight (relayedParts) has an "r" before its size.
type uploadToken struct {
	open           bool // begun before its file had a record (multipart_open.go)
	relay          bool // its parts come through the server (multipart_relayed.go)
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
	flags := ""
	if t.open {
		flags = "o"
	}
	if t.relay {
		flags += "r"
	}
	return fmt.Sprintf("%s%d-%d-%s%s%s", flags, t.size, t.partSize, kid, t.salt, t.mac)
}

// The MAC's domains: an open upload's is its own, so that no uploadId of
// a record's upload stands for an open one once that record is deleted.
const (
	tokenDomain     = "perseus-multipart-v1"
	openTokenDomain = "perseus-multipart-open-v1"
)

// domain is the MAC domain of t.
func (t uploadToken) domain() string {
	if t.open {
		return openTokenDomain
	}
	return tokenDomain
}

// fields are what an upload's MAC binds: its plan, its salt and whether
// its parts come through the server, to one record of one tenant. (A
// token of before the relay flag binds the same fields without it.)
func (t uploadToken) fields(tenant, id string) []string {
	f := []string{tenant, id, strconv.FormatInt(t.size, 10), strconv.FormatInt(t.partSize, 10), t.salt}
	if t.relay {
		f = append(f, "relayed")
	}
	return f
}

// newToken makes the uploadId of an upload of rec with plan's size, part
// size and openness; its salt is plan's, or random when that is empty.
func (c *Core) newToken(rec meta.File, plan uploadToken) uploadToken {
	t := uploadToken{open: plan.open, relay: plan.relay, size: plan.size, partSize: plan.partSize, kid: c.cfg.Signer.SigningID(), salt: plan.salt}
	if t.salt == "" {
		var b [saltLen / 2]byte
		rand.Read(b[:])
		t.salt = hex.EncodeToString(b[:])
	}
	m := c.cfg.Signer.MAC(t.domain(), t.fields(rec.Tenant, rec.ID)...)
	t.mac = hex.EncodeToString(m[:macLen/2])
	return t
}

// parseToken reads an uploadId of rec: ErrUploadNotFound for anything the
// core did not make for rec, and a *sign.UnknownKeyError (with the token
// as far as it could be read) for one signed with a key this server does
// not have.
func (c *Core) parseToken(rec meta.File, str string) (t uploadToken, err error) {
	var rest0 string
	rest0, t.open = strings.CutPrefix(str, "o")
	rest0, t.relay = strings.CutPrefix(rest0, "r")
	f := strings.Split(rest0, "-")
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
	switch err := c.cfg.Signer.VerifyPrefix(t.kid, mac[saltLen/2:], t.domain(), t.fields(rec.Tenant, rec.ID)...); {
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
