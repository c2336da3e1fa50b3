package sign

import (
	"math"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// FuzzDownloadCheck: a download URL verifies for exactly the file, tenant,
// content and expiry it was signed for, expires after its second, and the
// signatures of download URLs and of upload URLs never stand in for each
// other.
func FuzzDownloadCheck(f *testing.F) {
	h := signHash
	f.Add("acme", "file-1", h, int64(1_900_000_000), "acme", "file-1", h, "1900000000")
	f.Add("acme", "file-1", h, int64(1_900_000_000), "acme", "file-2", h, "1900000000")
	f.Add("acme", "file-1", h, int64(1_900_000_000), "acme", "file-1", h, "01900000000")
	f.Add("a", "b\nc", h, int64(5), "a\nb", "c", h, "5")
	f.Add("", "", "", int64(math.MinInt64), "", "", "", "-9223372036854775808")
	f.Fuzz(func(t *testing.T, tenant, id, hash string, exp int64, tenant2, id2, hash2, exp2 string) {
		s := testSigner
		q, err := url.ParseQuery(s.DownloadQuery(tenant, id, hash, time.Unix(exp, 0)))
		if err != nil {
			t.Fatal(err)
		}
		if gt, gh, e := s.CheckDownload(id, q, time.Unix(exp, 0)); e != nil || gt != tenant || gh != hash {
			t.Fatalf("signed (%q, %q, %q, %d) came back as %q, %q, %v", tenant, id, hash, exp, gt, gh, e)
		}
		if exp < math.MaxInt64 {
			if _, _, e := s.CheckDownload(id, q, time.Unix(exp+1, 0)); e != ErrExpired {
				t.Fatalf("one second after expiry: %v", e)
			}
		}
		forged := url.Values{"tenant": {tenant2}, "hash": {hash2}, "expires": {exp2}, "sig": {q.Get("sig")}}
		if _, _, e := s.CheckDownload(id2, forged, time.Unix(math.MinInt64, 0)); e != ErrInvalid {
			n, perr := strconv.ParseInt(exp2, 10, 64)
			if tenant2 != tenant || id2 != id || hash2 != hash || perr != nil || n != exp {
				t.Fatalf("signature of (%q, %q, %q, %d) verified (%q, %q, %q, %q)", tenant, id, hash, exp, tenant2, id2, hash2, exp2)
			}
		}
		if _, _, e := s.CheckUpload(id, q, time.Unix(math.MinInt64, 0)); e != ErrInvalid {
			t.Fatalf("a download signature verified as an upload URL: %v", e)
		}
		up, _ := url.ParseQuery(s.UploadQuery(tenant, id, hash, time.Unix(exp, 0)))
		if _, _, e := s.CheckDownload(id, up, time.Unix(math.MinInt64, 0)); e != ErrInvalid {
			t.Fatalf("an upload signature verified as a download URL: %v", e)
		}
	})
}
