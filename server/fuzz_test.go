package server

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
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
		raw := s.query(tenant, id, hash, time.Unix(exp, 0))
		q, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("the signer made a query that does not parse: %q: %v", raw, err)
		}
		// Round trip: valid up to its expiry second, expired after it.
		gotT, gotH, e := s.check(id, q, time.Unix(exp, 0))
		if e != nil || gotT != tenant || gotH != hash {
			t.Fatalf("signed (%q, %q, %q, %d) came back as %q, %q, %v", tenant, id, hash, exp, gotT, gotH, e)
		}
		if exp < math.MaxInt64 {
			if _, _, e := s.check(id, q, time.Unix(exp+1, 0)); e != ErrURLExpired {
				t.Fatalf("one second after expiry: %v", e)
			}
		}

		// The genuine signature over other values verifies only if they are
		// the same values.
		forged := url.Values{"tenant": {tenant2}, "hash": {hash2}, "expires": {exp2}, "sig": {q.Get("sig")}}
		if _, _, e := s.check(id2, forged, time.Unix(math.MinInt64, 0)); e != ErrURLInvalid {
			n, perr := strconv.ParseInt(exp2, 10, 64)
			if tenant2 != tenant || id2 != id || hash2 != hash || perr != nil || n != exp {
				t.Fatalf("signature of (%q, %q, %q, %d) verified (%q, %q, %q, %q)", tenant, id, hash, exp, tenant2, id2, hash2, exp2)
			}
		}

		// A signature from anywhere but the signer never verifies.
		other := url.Values{"tenant": {tenant}, "hash": {hash}, "expires": {strconv.FormatInt(exp, 10)}, "sig": {sig}}
		if _, _, e := s.check(id, other, time.Unix(math.MinInt64, 0)); e != ErrURLInvalid {
			b, _ := base64.RawURLEncoding.DecodeString(sig)
			if !hmac.Equal(b, s.mac(tenant, id, hash, exp)) {
				t.Fatalf("a made-up signature %q verified", sig)
			}
		}
	})
}

// FuzzDecodeCreate: decoding never panics, and POST /api/v0/file never answers
// 5xx to any body: only 2xx for a valid request, 4xx with a message otherwise.
func FuzzDecodeCreate(f *testing.F) {
	e := newEnv(f)
	h := hashOf([]byte("x"))
	for _, seed := range []string{
		`{"name": "a.txt", "sourceHash": "` + h + `"}`,
		`{"name": "A.TXT", "sourceHash": "` + string(bytes.ToUpper([]byte(h))) + `"}`,
		`{"name": "a.txt", "sourceHash": "` + h + `"}}`,
		`{"name": "a.txt", "sourceHash": "` + h + `", "extra": [1, {"x": null}]}`,
		`{"name": "\u0000", "sourceHash": "` + h + `"}`,
		`{"name": "\ud800", "sourceHash": "` + h + `"}`,
		`{"name": "..", "sourceHash": "` + h + `"}`,
		`{"name": "a", "name": 5}`,
		`{"NAME": "a.txt", "SOURCEHASH": "` + h + `"}`,
		`{"name": null, "sourceHash": null}`,
		`[]`, `null`, `""`, `1e999`, `{`, `}`, ``, "\xff\xfe", `{"name": "` + "\xff" + `"}`,
	} {
		f.Add([]byte(seed), "application/json")
	}
	f.Add([]byte(`{}`), "")
	f.Add([]byte(`{}`), "text/plain")
	f.Add([]byte(`{}`), "application/problem+json; charset=utf-8")
	f.Add([]byte(`{}`), ";;")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest("POST", "/api/v0/file", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		var cr createRequest
		decode(httptest.NewRecorder(), req, &cr)
		req = httptest.NewRequest("POST", "/api/v0/file/find", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		var fr findRequest
		decode(httptest.NewRecorder(), req, &fr)

		req = httptest.NewRequest("POST", "/api/v0/file", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+keyA)
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		var res struct {
			File      *File  `json:"file"`
			UploadURL string `json:"uploadUrl"`
			Message   string `json:"message"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("%d with a body that is not JSON: %q", rec.Code, rec.Body)
		}
		switch {
		case rec.Code == http.StatusOK || rec.Code == http.StatusCreated:
			if res.File == nil || res.File.Status != "pending" || res.UploadURL == "" ||
				checkName(&res.File.Name) != nil || !createdAtShape.MatchString(res.File.CreatedAt) {
				t.Fatalf("%d for %q: %s", rec.Code, body, rec.Body)
			}
			if lh, ok := checkHash(res.File.SourceHash); !ok || lh != res.File.SourceHash {
				t.Fatalf("accepted sourceHash %q", res.File.SourceHash)
			}
		case rec.Code >= 400 && rec.Code < 500 && rec.Code != http.StatusConflict:
			if res.Message == "" {
				t.Fatalf("%d without a message: %s", rec.Code, rec.Body)
			}
		default: // nothing is ever uploaded here, so not even 409
			t.Fatalf("%d for %q (Content-Type %q): %s", rec.Code, body, contentType, rec.Body)
		}
	})
}
