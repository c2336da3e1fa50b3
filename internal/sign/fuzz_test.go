package sign

import (
	"crypto/hmac"
	"encoding/base64"
	"math"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// FuzzSignerCheck: a signed query verifies for exactly what was signed, and
// nothing else does — not other field values under its signature, nor a
// signature the signer did not produce.
func FuzzSignerCheck(f *testing.F) {
	h := signHash
	f.Add("acme", "file-1", h, int64(1_900_000_000), "acme", "file-1", h, "1900000000", "")
	f.Add("acme", "file-1", h, int64(1_900_000_000), "acme", "file-1", h, "+1900000000", "AAAA")
	f.Add("acme", "file-1", h, int64(1_900_000_000), "acme", "file-2", h, "1900000000", "")
	f.Add("acme", "file-1", h, int64(1_900_000_000), "acme", "file-1", h, "1900000001", "")
	f.Add("a", "b\nc", h, int64(5), "a\nb", "c", h, "5", "")     // fields shifted across a separator
	f.Add("t", "i", "h\n5", int64(6), "t", "i", "h", "5\n6", "") // hash shifted into expires
	f.Add("", "", "", int64(0), "", "", "", "0", "")             // all empty
	f.Add("ü\xff", "%2F..", h, int64(math.MaxInt64), "ü\xff", "%2F..", h, "9223372036854775807", "x")
	f.Add("acme", "file-1", h, int64(math.MinInt64), "acme", "file-1", h, "-9223372036854775808", "")
	f.Fuzz(func(t *testing.T, tenant, id, hash string, exp int64, tenant2, id2, hash2, exp2, sig string) {
		s := testSigner
		raw := s.UploadQuery(tenant, id, hash, time.Unix(exp, 0))
		q, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("the signer made a query that does not parse: %q: %v", raw, err)
		}
		// Round trip: valid up to its expiry second, expired after it.
		gotT, gotH, e := s.CheckUpload(id, q, time.Unix(exp, 0))
		if e != nil || gotT != tenant || gotH != hash {
			t.Fatalf("signed (%q, %q, %q, %d) came back as %q, %q, %v", tenant, id, hash, exp, gotT, gotH, e)
		}
		if exp < math.MaxInt64 {
			if _, _, e := s.CheckUpload(id, q, time.Unix(exp+1, 0)); e != ErrExpired {
				t.Fatalf("one second after expiry: %v", e)
			}
		}

		// The genuine signature over other values verifies only if they are
		// the same values.
		forged := url.Values{"tenant": {tenant2}, "hash": {hash2}, "expires": {exp2}, "sig": {q.Get("sig")}}
		if _, _, e := s.CheckUpload(id2, forged, time.Unix(math.MinInt64, 0)); e != ErrInvalid {
			n, perr := strconv.ParseInt(exp2, 10, 64)
			if tenant2 != tenant || id2 != id || hash2 != hash || perr != nil || n != exp {
				t.Fatalf("signature of (%q, %q, %q, %d) verified (%q, %q, %q, %q)", tenant, id, hash, exp, tenant2, id2, hash2, exp2)
			}
		}

		// A signature from anywhere but the signer never verifies.
		other := url.Values{"tenant": {tenant}, "hash": {hash}, "expires": {strconv.FormatInt(exp, 10)}, "sig": {sig}}
		if _, _, e := s.CheckUpload(id, other, time.Unix(math.MinInt64, 0)); e != ErrInvalid {
			b, _ := base64.RawURLEncoding.DecodeString(sig)
			if !hmac.Equal(b, s.MAC(uploadDomain, uploadFields(tenant, id, hash, exp)...)) {
				t.Fatalf("a made-up signature %q verified", sig)
			}
		}
	})
}
