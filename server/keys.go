package server

// Where content lives in the blob store. Every key is derived here.
//
//	files/<tenant>/<sha[0:2]>/<sha>/<id>   verified content of one record
//	staging/<tenant>/<id>/<nonce>          a direct (presigned) upload, not yet verified
//
// Content is addressed by its hash within a tenant; each record owns its own
// leaf, so deleting one record never touches another's bytes, and nothing is
// shared across tenants.

func contentKey(tenant, hash, id string) string {
	return "files/" + tenant + "/" + hash[:2] + "/" + hash + "/" + id
}

const stagingPrefix = "staging/"

func stagingDir(tenant, id string) string { return stagingPrefix + tenant + "/" + id + "/" }
