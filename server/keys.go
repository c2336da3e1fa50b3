package server

import (
	"fmt"

	"github.com/google/uuid"
)

// Where content lives in the blob store. Every key is derived here.
//
//	files/<tenant>/<sha[0:2]>/<sha>/<id>   content of one record: verified once the record is
//	                                       uploaded; while it is pending, possibly the object of
//	                                       a completed direct multipart upload (S3) being verified
//	files/<tenant>/streamed/<id>           content of a record whose bytes came before its hash
//	                                       (POST /api/v0/file/stream): its id says so (streamedID)
//	staging/<tenant>/<id>/<nonce>          a direct (presigned) upload, not yet verified
//	multipart/<tenant>/<id>/<uploadId>     empty: a direct multipart upload (S3) at the content
//	                                       key, named by the uploadId clients see
//	parts/<tenant>/<id>/<uploadId>         a multipart upload through this server: the id of an
//	                                       assembly (blob.Assembler), or a directory of part objects
//	parts/<tenant>/<id>/<uploadId>/<nnnnn>-<sha256>
//	                                       one part object, on stores without blob.Assembler
//
// Content is addressed by its hash within a tenant; each record owns its own
// leaf, so deleting one record never touches another's bytes, and nothing is
// shared across tenants. A presigned PUT URL never points at a content key:
// it can be replayed with other bytes until it expires. A direct multipart
// upload can: its parts are invisible until the server completes it, only
// when no object is there yet, and its uploadId is gone once completed.

func contentKey(tenant, hash, id string) string {
	if streamed(id) {
		return "files/" + tenant + "/streamed/" + id
	}
	return "files/" + tenant + "/" + hash[:2] + "/" + hash + "/" + id
}

// streamedID returns the id of a record whose content is stored before its
// hash is known, so under a key of the id alone: a version 7 UUID (the ids
// of every other record) with its version digit set to 8, which is how
// contentKey tells the two apart. Both kinds sort by creation time.
func streamedID() string {
	u := uuid.Must(uuid.NewV7())
	u[6] = u[6]&0x0f | 0x80
	return u.String()
}

// streamed reports whether id was made by streamedID.
func streamed(id string) bool { return len(id) == 36 && id[14] == '8' }

const stagingPrefix = "staging/"

func stagingDir(tenant, id string) string { return stagingPrefix + tenant + "/" + id + "/" }

const multipartPrefix = "multipart/"

// multipartDir holds the markers of every direct multipart upload of one record.
func multipartDir(tenant, id string) string { return multipartPrefix + tenant + "/" + id + "/" }

// multipartKey is the marker of one direct multipart upload.
func multipartKey(tenant, id, upload string) string { return multipartDir(tenant, id) + upload }

const partsPrefix = "parts/"

// partsDir holds every multipart upload through this server of one record.
func partsDir(tenant, id string) string { return partsPrefix + tenant + "/" + id + "/" }

// partKey is where part n, hashing to sha, of one multipart upload is kept
// on a store without blob.Assembler.
func partKey(tenant, id, upload string, n int, sha string) string {
	return partsDir(tenant, id) + upload + "/" + partName(n, sha)
}

func partName(n int, sha string) string { return fmt.Sprintf("%05d-%s", n, sha) }
