package server

import "fmt"

// Where content lives in the blob store. Every key is derived here.
//
//	files/<tenant>/<sha[0:2]>/<sha>/<id>   verified content of one record
//	staging/<tenant>/<id>/<nonce>          a direct (presigned) upload, not yet verified
//	staging/<tenant>/<id>/mp-<uploadId>    a direct multipart upload (S3), once completed
//	parts/<tenant>/<id>/<uploadId>/<nnnnn>-<sha256>
//	                                       one part of a multipart upload through this server
//
// Content is addressed by its hash within a tenant; each record owns its own
// leaf, so deleting one record never touches another's bytes, and nothing is
// shared across tenants.

func contentKey(tenant, hash, id string) string {
	return "files/" + tenant + "/" + hash[:2] + "/" + hash + "/" + id
}

const stagingPrefix = "staging/"

func stagingDir(tenant, id string) string { return stagingPrefix + tenant + "/" + id + "/" }

const partsPrefix = "parts/"

// partsDir holds every multipart upload through this server of one record.
func partsDir(tenant, id string) string { return partsPrefix + tenant + "/" + id + "/" }

// partKey is where part n, hashing to sha, of one multipart upload is kept.
func partKey(tenant, id, upload string, n int, sha string) string {
	return partsDir(tenant, id) + upload + "/" + partName(n, sha)
}

func partName(n int, sha string) string { return fmt.Sprintf("%05d-%s", n, sha) }

// multipartKey is the staging key a direct multipart upload creates.
func multipartKey(tenant, id, upload string) string { return stagingDir(tenant, id) + "mp-" + upload }
