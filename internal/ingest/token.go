package ingest

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/perseus-go/perseus/store/meta"
)

// uploadToken is a multipart uploadId as clients see it:
// "<size>-<partSize>-<salt><mac>".
type uploadToken struct {
	size, partSize int64
	salt           string // 16 hex: random, or derived from the store's upload id (S3)
	mac            string // 32 hex: uploadMAC of the rest, for the record's tenant and id
}

const (
	saltLen = 16
	macLen  = 32
)

func (t uploadToken) String() string {
	return fmt.Sprintf("%d-%d-%s%s", t.size, t.partSize, t.salt, t.mac)
}

// uploadMAC binds an upload's plan and salt to one record of one tenant.
func (c *Core) uploadMAC(tenant, id string, size, partSize int64, salt string) string {
	m := c.cfg.Signer.MAC("perseus-multipart-v1", tenant, id, strconv.FormatInt(size, 10), strconv.FormatInt(partSize, 10), salt)
	return hex.EncodeToString(m[:macLen/2])
}

// newToken makes the uploadId of an upload of rec with this plan; salt is
// random when empty.
func (c *Core) newToken(rec meta.File, size, partSize int64, salt string) uploadToken {
	if salt == "" {
		var b [saltLen / 2]byte
		rand.Read(b[:])
		salt = hex.EncodeToString(b[:])
	}
	return uploadToken{size, partSize, salt, c.uploadMAC(rec.Tenant, rec.ID, size, partSize, salt)}
}

// parseToken reads an uploadId of rec; ok is false for anything the core
// did not make for rec.
func (c *Core) parseToken(rec meta.File, str string) (t uploadToken, ok bool) {
	f := strings.Split(str, "-")
	if len(f) != 3 || len(f[2]) != saltLen+macLen {
		return t, false
	}
	var err1, err2 error
	t.size, err1 = strconv.ParseInt(f[0], 10, 64)
	t.partSize, err2 = strconv.ParseInt(f[1], 10, 64)
	if _, err := hex.DecodeString(f[2]); err != nil || err1 != nil || err2 != nil || t.size <= 0 || t.partSize <= 0 {
		return t, false
	}
	t.salt, t.mac = f[2][:saltLen], f[2][saltLen:]
	want := c.uploadMAC(rec.Tenant, rec.ID, t.size, t.partSize, t.salt)
	// Compared as signatures are: in constant time.
	if !hmac.Equal([]byte(t.mac), []byte(want)) {
		return t, false
	}
	return t, t.String() == str
}

// tokenFor reads an uploadId of rec taken from a client: one the core made
// for rec, with a plan within the limits. The plan is checked again
// because the limits may have changed since the upload began, and nothing
// sized by the plan (part lists, files) may outgrow them.
func (c *Core) tokenFor(rec meta.File, str string) (uploadToken, error) {
	tok, ok := c.parseToken(rec, str)
	if !ok {
		return tok, ErrUploadNotFound
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
