package server

import (
	"encoding/hex"
	"strconv"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/store/meta"
)

// contentKey is where the content of a record of tenant with this hash
// and id lives; an empty hash is a streamed record's.
func contentKey(tenant, hash, id string) string {
	f := meta.File{Tenant: tenant, SourceHash: hash, ID: id, Kind: meta.KindHashed}
	if hash == "" {
		f.Kind = meta.KindStreamed
	}
	return keys.Content(f)
}

func stagingDir(tenant, id string) string { return keys.StagingDir(tenant, id) }

func partsDir(tenant, id string) string { return keys.PartsDir(tenant, id) }

func multipartKey(tenant, id, upload string) string { return keys.Multipart(tenant, id, upload) }

// signedUploadID is an uploadId for rec with this plan, signed with the
// test servers' key as the core signs its own, so that a test can name a
// genuine upload whose plan the server must still refuse.
func signedUploadID(rec meta.File, size, partSize int64) string {
	const salt = "0123456789abcdef"
	s, p := strconv.FormatInt(size, 10), strconv.FormatInt(partSize, 10)
	mac := sign.New(testSigningKey).MAC("perseus-multipart-v1", rec.Tenant, rec.ID, s, p, salt)
	return s + "-" + p + "-" + salt + hex.EncodeToString(mac[:16])
}

// testSigningKey is the signing key of every test server.
var testSigningKey = []byte("ssssssssssssssssssssssssssssssss")
