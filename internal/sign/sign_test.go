package sign

import (
	"bytes"
	"net/url"
	"strconv"
	"testing"
	"time"
)

var testSigner = New(bytes.Repeat([]byte("k"), 32))

const signHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func signedQuery(t *testing.T, s Signer, tenant, id, hash string, exp time.Time) url.Values {
	t.Helper()
	q, err := url.ParseQuery(s.UploadQuery(tenant, id, hash, exp))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestSignedQueryRoundTrips(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	q := signedQuery(t, testSigner, "acme", "file-1", signHash, exp)
	tenant, hash, err := testSigner.CheckUpload("file-1", q, time.Now())
	if err != nil || tenant != "acme" || hash != signHash {
		t.Fatalf("check = %q, %q, %v", tenant, hash, err)
	}
	// Valid through the second of its expiry, not after.
	if _, _, err := testSigner.CheckUpload("file-1", q, time.Unix(exp.Unix(), 999e6)); err != nil {
		t.Errorf("at its expiry second: %v", err)
	}
	if _, _, err := testSigner.CheckUpload("file-1", q, time.Unix(exp.Unix()+1, 0)); err != ErrExpired {
		t.Errorf("after expiry: %v, want ErrExpired", err)
	}
}

func TestSignatureBindsEveryField(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	q := signedQuery(t, testSigner, "acme", "file-1", signHash, exp)
	with := func(k, v string) url.Values {
		c := url.Values{}
		for key := range q {
			c.Set(key, q.Get(key))
		}
		c.Set(k, v)
		return c
	}
	otherKey := New(bytes.Repeat([]byte("o"), 32))
	for name, tc := range map[string]struct {
		s  Signer
		id string
		q  url.Values
	}{
		"other id":             {testSigner, "file-2", q},
		"other tenant":         {testSigner, "file-1", with("tenant", "acme2")},
		"other hash":           {testSigner, "file-1", with("hash", "0"+signHash[1:])},
		"later expiry":         {testSigner, "file-1", with("expires", strconv.FormatInt(exp.Unix()+1, 10))},
		"other key":            {otherKey, "file-1", q},
		"no signature":         {testSigner, "file-1", with("sig", "")},
		"sig not b64":          {testSigner, "file-1", with("sig", "!!!")},
		"expires not a number": {testSigner, "file-1", with("expires", "soon")},
		"empty query":          {testSigner, "file-1", url.Values{}},
	} {
		if _, _, err := tc.s.CheckUpload(tc.id, tc.q, time.Now()); err != ErrInvalid {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestExpiredURLWithBadSignatureIsInvalidNotExpired(t *testing.T) {
	q := signedQuery(t, testSigner, "acme", "file-1", signHash, time.Now().Add(-time.Hour))
	if _, _, err := testSigner.CheckUpload("file-1", q, time.Now()); err != ErrExpired {
		t.Errorf("genuine but expired: %v", err)
	}
	q.Set("tenant", "other")
	if _, _, err := testSigner.CheckUpload("file-1", q, time.Now()); err != ErrInvalid {
		t.Errorf("forged and expired: %v, want ErrInvalid (the signature is checked first)", err)
	}
}

// The fields are joined before they are signed: no split of the same bytes
// into other fields may carry the signature over.
func TestSignatureFieldsCannotShiftAcrossSeparators(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	q := signedQuery(t, testSigner, "a", "b\nc", signHash, exp)
	q.Set("tenant", "a\nb")
	if tenant, _, err := testSigner.CheckUpload("c", q, time.Now()); err == nil {
		t.Errorf("a URL for tenant %q, id %q verified for tenant %q, id %q", "a", "b\nc", tenant, "c")
	}
	q = signedQuery(t, testSigner, "a", "b", "c\n"+signHash, exp)
	q.Set("hash", signHash)
	if _, _, err := testSigner.CheckUpload("b\nc", q, time.Now()); err == nil {
		t.Error("the hash's first line moved into the id and still verified")
	}
}
