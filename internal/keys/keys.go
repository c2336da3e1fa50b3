// Package keys lays out the blob store: every object key is built here, from a record's tenant, id, kind and hash.
package keys

import (
	"fmt"
	"strings"

	"github.com/perseus-go/perseus/store/meta"
)

// Where content lives in the blob store. Every key is built here.
//
//	files/<tenant>/<sha[0:2]>/<sha>/<id>   content of one record of kind hashed: verified once the
//	                                       record is uploaded; while it is pending, possibly the
//	                                       object of a completed direct multipart upload (S3)
//	                                       being verified
//	files/<tenant>/streamed/<id>           content of a record of kind streamed, whose bytes came
//	                                       before their hash (ingest.Core.Stream)
//	staging/<tenant>/<id>/<nonce>          a direct (presigned) upload, not yet verified
//	multipart/<tenant>/<id>/<uploadId>     empty: a multipart upload of the store (S3) at the content
//	                                       key, named by the uploadId clients see
//	multipart/<tenant>/<id>/<uploadId>.parts/<n>.<etag>.<from>.<to>.<check>
//	                                       empty: what the server checked of part n, which
//	                                       it relayed to that upload (S3)
//	parts/<tenant>/<id>/<uploadId>         a multipart upload through the server: the id of an
//	                                       assembly (blob.Assembler)
//	tus/<tenant>/<id>                      a resumable (tus) upload of the file id to be: the id
//	                                       of an appendable (blob.Appender), not an object key
//
// Content is addressed by its hash within a tenant; each record owns its own
// leaf, so deleting one record never touches another's bytes, and nothing is
// shared across tenants. A presigned PUT URL never points at a content key:
// it can be replayed with other bytes until it expires. A direct multipart
// upload can: its parts are invisible until the ingest core completes it, only
// when no object is there yet, and its uploadId is gone once completed.

// Content is where f's verified content lives; which key depends on
// f's kind (meta.Kind), never on its id.
func Content(f meta.File) string {
	if f.Kind == meta.KindStreamed {
		return "files/" + f.Tenant + "/streamed/" + f.ID
	}
	return "files/" + f.Tenant + "/" + f.SourceHash[:2] + "/" + f.SourceHash + "/" + f.ID
}

// The top-level folders: content, direct uploads, markers of direct
// multipart uploads, assemblies of multipart uploads through the server.
const (
	ContentPrefix   = "files/"
	StagingPrefix   = "staging/"
	MultipartPrefix = "multipart/"
	PartsPrefix     = "parts/"
)

// StagingDir holds the direct (presigned) uploads of one record.
func StagingDir(tenant, id string) string { return StagingPrefix + tenant + "/" + id + "/" }

// MultipartDir holds the markers of every direct multipart upload of one record.
func MultipartDir(tenant, id string) string { return MultipartPrefix + tenant + "/" + id + "/" }

// Multipart is the marker of one multipart upload of the store (S3).
func Multipart(tenant, id, upload string) string { return MultipartDir(tenant, id) + upload }

// PartRecords holds what the server verified of each part it relayed to
// a multipart upload of the store (one empty object per part, its facts in
// its name), beside that upload's marker and not under it (a key cannot be
// both an object and a folder on a file system): removed and aged out with
// the record's markers, and never taken for one.
func PartRecords(tenant, id, upload string) string { return Multipart(tenant, id, upload) + ".parts/" }

// ResumablePrefix is where the appendables of resumable (tus) uploads are
// named: ids of blob.Appender, outside the object namespace.
const ResumablePrefix = "tus/"

// Resumable names the appendable of tenant's resumable upload id.
func Resumable(tenant, id string) string { return ResumablePrefix + tenant + "/" + id }

// PartsDir holds every multipart upload through the server of one record.
func PartsDir(tenant, id string) string { return PartsPrefix + tenant + "/" + id + "/" }

// Assembly names the assembly of one multipart upload through the server.
func Assembly(rec meta.File, upload string) string { return PartsDir(rec.Tenant, rec.ID) + upload }

// RecordOf returns the file id a content, staging or multipart marker key
// belongs to, or "" for a key of none of those shapes, and for the marker
// of an open upload (OpenMarker), which belongs to no record until it
// completes: the sweeper takes keys of missing records for orphans.
func RecordOf(key string) string {
	parts := strings.Split(key, "/")
	switch {
	case parts[0]+"/" == ContentPrefix && len(parts) == 5:
		return parts[4]
	case parts[0]+"/" == ContentPrefix && len(parts) == 4 && parts[2] == "streamed":
		return parts[3]
	case parts[0]+"/" == StagingPrefix && len(parts) >= 4:
		return parts[2]
	case parts[0]+"/" == MultipartPrefix && len(parts) == 4 && !strings.HasPrefix(parts[3], "o"):
		return parts[2]
	}
	return ""
}

// OpenMarker reports whether key is the marker of an open upload (one
// begun before its file had a record): its uploadId starts with "o".
func OpenMarker(key string) bool {
	parts := strings.Split(key, "/")
	return parts[0]+"/" == MultipartPrefix && len(parts) == 4 && strings.HasPrefix(parts[3], "o")
}

// Staged returns the tenant and file id of a staging key.
func Staged(key string) (tenant, id string, err error) {
	parts := strings.Split(strings.TrimPrefix(key, StagingPrefix), "/")
	if len(parts) != 3 || !strings.HasPrefix(key, StagingPrefix) {
		return "", "", fmt.Errorf("%s is not a staging key", key)
	}
	return parts[0], parts[1], nil
}
