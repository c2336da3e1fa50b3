package sign

import (
	"math"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// FuzzPartSignerCheck: a part URL verifies for exactly the part it was
// signed for — no other tenant, file, content, upload, part number, size,
// part hash or expiry under its signature — and the signatures of part URLs
// and of whole-file upload URLs never stand in for each other.
func FuzzPartSignerCheck(f *testing.F) {
	h := signHash
	f.Add("acme", "file-1", h, "10-5-0123456789abcdef", 1, int64(5), h, int64(1_900_000_000), "acme", "file-1", h, "10-5-0123456789abcdef", "1", "5", h, "1900000000")
	f.Add("acme", "file-1", h, "u", 2, int64(5), h, int64(1_900_000_000), "acme", "file-1", h, "u", "02", "5", h, "1900000000")
	f.Add("acme", "file-1", h, "u", 1, int64(5), h, int64(7), "acme", "file-1", h, "u", "1", "05", h, "7")
	f.Add("a", "b", "c", "d", 1, int64(1), "e", int64(1), "a", "b", "c", "d1", "", "1", "e", "1") // upload shifted into the part number
	f.Add("", "", "", "", 0, int64(0), "", int64(math.MinInt64), "", "", "", "", "0", "0", "", "-9223372036854775808")
	f.Fuzz(func(t *testing.T, tenant, id, hash, upload string, part int, size int64, sha string, exp int64,
		tenant2, id2, hash2, upload2, part2, size2, sha2, exp2 string) {
		s := testSigner
		c := Part{Tenant: tenant, Hash: hash, Upload: upload, Number: part, Size: size, SHA256: sha}
		q, err := url.ParseQuery(s.PartQuery(id, c, time.Unix(exp, 0)))
		if err != nil {
			t.Fatal(err)
		}
		got, e := s.CheckPart(id, strconv.Itoa(part), q, time.Unix(exp, 0))
		if e != nil || got != c {
			t.Fatalf("signed %+v for %q came back as %+v, %v", c, id, got, e)
		}
		if exp < math.MaxInt64 {
			if _, e := s.CheckPart(id, strconv.Itoa(part), q, time.Unix(exp+1, 0)); e != ErrExpired {
				t.Fatalf("one second after expiry: %v", e)
			}
		}
		forged := url.Values{"tenant": {tenant2}, "hash": {hash2}, "upload": {upload2}, "size": {size2},
			"sha256": {sha2}, "expires": {exp2}, "sig": {q.Get("sig")}}
		if fc, e := s.CheckPart(id2, part2, forged, time.Unix(math.MinInt64, 0)); e == nil {
			n, _ := strconv.ParseInt(exp2, 10, 64)
			if fc != c || id2 != id || n != exp {
				t.Fatalf("signature of %+v (%q, exp %d) verified %+v (%q, exp %q)", c, id, exp, fc, id2, exp2)
			}
		}
		// A whole-file URL's signature is no part URL's, and the other way round.
		whole, _ := url.ParseQuery(s.UploadQuery(tenant, id, hash, time.Unix(exp, 0)))
		whole.Set("upload", upload)
		whole.Set("size", strconv.FormatInt(size, 10))
		whole.Set("sha256", sha)
		if _, e := s.CheckPart(id, strconv.Itoa(part), whole, time.Unix(math.MinInt64, 0)); e != ErrInvalid {
			t.Fatalf("a whole-file signature verified as part %d: %v", part, e)
		}
		if _, _, e := s.CheckUpload(id, q, time.Unix(math.MinInt64, 0)); e != ErrInvalid {
			t.Fatalf("a part signature verified as a whole-file URL: %v", e)
		}
	})
}
