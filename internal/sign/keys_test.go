package sign

import (
	"bytes"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func key(id, fill string) Key { return Key{ID: id, Secret: bytes.Repeat([]byte(fill), 32)} }

// TestRotationSignsWithTheFirstKeyAndAcceptsAll: a fleet mid-rotation
// accepts what either key signed, and signs with the new one.
func TestRotationSignsWithTheFirstKeyAndAcceptsAll(t *testing.T) {
	old, err := NewKeys(key("k2025", "o"))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewKeys(key("k2026", "n"), key("k2025", "o"))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	for name, tc := range map[string]struct {
		by, check Signer
		want      error
	}{
		"old URL on a rotated server": {old, rotated, nil},
		"new URL on a rotated server": {rotated, rotated, nil},
		"new URL on an old server":    {rotated, old, ErrUnknownKey},
	} {
		q, _ := url.ParseQuery(tc.by.UploadQuery("t", "id", signHash, exp))
		if q.Get("kid") != tc.by.SigningID() {
			t.Errorf("%s: kid %q, want %q", name, q.Get("kid"), tc.by.SigningID())
		}
		_, _, err := tc.check.CheckUpload("id", q, time.Now())
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		d, _ := url.ParseQuery(tc.by.DownloadQuery("t", "id", signHash, exp))
		if _, _, err := tc.check.CheckDownload("id", d, time.Now()); !errors.Is(err, tc.want) {
			t.Errorf("%s, download URL: %v, want %v", name, err, tc.want)
		}
		p, _ := url.ParseQuery(tc.by.PartQuery("id", Part{Tenant: "t", Hash: signHash, Upload: "u", Number: 1, Size: 5, SHA256: signHash}, exp))
		if _, err := tc.check.CheckPart("id", "1", p, time.Now()); !errors.Is(err, tc.want) {
			t.Errorf("%s, part URL: %v, want %v", name, err, tc.want)
		}
	}
}

// TestUnknownKeyNamesTheKey: a replica without the key says which key it
// lacks, and how to mend it; a forged kid of a key it has is invalid.
func TestUnknownKeyNamesTheKey(t *testing.T) {
	a, _ := NewKeys(key("fleet_a", "a"))
	b, _ := NewKeys(key("fleet_b", "b"))
	q, _ := url.ParseQuery(a.UploadQuery("t", "id", signHash, time.Now().Add(time.Hour)))
	_, _, err := b.CheckUpload("id", q, time.Now())
	var uk *UnknownKeyError
	if !errors.As(err, &uk) || uk.ID != "fleet_a" || !strings.Contains(uk.Message(), "--signing-key") {
		t.Fatalf("check on a server without the key: %v", err)
	}
	q.Set("kid", b.SigningID())
	if _, _, err := b.CheckUpload("id", q, time.Now()); err != ErrInvalid {
		t.Fatalf("a signature of another key under b's kid: %v, want ErrInvalid", err)
	}
	q.Del("kid") // as URLs signed before keys had ids: every key is tried
	if _, _, err := a.CheckUpload("id", q, time.Now()); err != nil {
		t.Fatalf("without a kid: %v", err)
	}
}

// TestSameIDAnotherSecretSaysSo: replicas given one key id with different
// secrets (each made its own) tell each other apart by the fingerprint the
// tag carries, and say which, instead of finding every signature invalid.
func TestSameIDAnotherSecretSaysSo(t *testing.T) {
	a, _ := NewKeys(key("k1", "a"))
	b, _ := NewKeys(key("k1", "b"))
	if a.SigningID() == b.SigningID() || !strings.HasPrefix(a.SigningID(), "k1_") || CheckTag(a.SigningID()) != nil {
		t.Fatalf("tags %q and %q", a.SigningID(), b.SigningID())
	}
	q, _ := url.ParseQuery(a.UploadQuery("t", "id", signHash, time.Now().Add(time.Hour)))
	_, _, err := b.CheckUpload("id", q, time.Now())
	var uk *UnknownKeyError
	if !errors.As(err, &uk) || uk.ID != "k1" || uk.Other == "" || uk.Other == uk.Fingerprint || !strings.Contains(uk.Message(), "another secret") {
		t.Fatalf("a URL of k1 on a server whose k1 has another secret: %v", err)
	}
	if strings.Contains(uk.Message(), string(key("k1", "a").Secret)) || strings.Contains(uk.Message(), string(key("k1", "b").Secret)) {
		t.Fatal("the message shows a secret")
	}
}

func TestNewKeysRefusesWhatCannotSign(t *testing.T) {
	for name, keys := range map[string][]Key{
		"none":           nil,
		"short secret":   {{ID: "a", Secret: []byte("short")}},
		"no id":          {key("", "x")},
		"id with a dash": {key("2026-12", "x")},
		"id too long":    {key(strings.Repeat("a", 33), "x")},
		"twice":          {key("a", "x"), key("a", "y")},
	} {
		if _, err := NewKeys(keys...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
