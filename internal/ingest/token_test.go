package ingest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/store/meta"
)

func TestUploadTokenRoundTrips(t *testing.T) {
	srv := newCore(t)
	rec := meta.File{Tenant: "tenant-a", ID: "file-1"}
	tok := srv.newToken(rec, uploadToken{size: 5 << 30, partSize: 16 << 20})
	got, err := srv.parseToken(rec, tok.String())
	if err != nil || got != tok || tok.count() != 320 || tok.partLen(320) != 16<<20 {
		t.Fatalf("parseToken(%q) = %+v, %v", tok, got, err)
	}
	mac := tok.salt + tok.mac
	for _, s := range []string{"", "1-2", "1-2-3", "0-1-" + mac, "1-0-" + mac, "01-1-" + mac,
		"1-1-0123456789abcdeg", "5368709120-16777216-" + mac + "-", "-5368709120-16777216-" + mac,
		fmt.Sprintf("%d-1-%s", uint64(1<<63), mac), "5368709121-16777216-" + mac, "5368709120-16777216-" + strings.ToUpper(mac)} {
		if _, err := srv.parseToken(rec, s); err != ErrUploadNotFound {
			t.Errorf("parseToken(%q) = %v, want ErrUploadNotFound", s, err)
		}
	}
	for _, other := range []meta.File{{Tenant: "tenant-b", ID: "file-1"}, {Tenant: "tenant-a", ID: "file-2"}} {
		if _, err := srv.parseToken(other, tok.String()); err != ErrUploadNotFound {
			t.Errorf("parseToken accepted %s's uploadId for %+v", rec.ID, other)
		}
	}
}

// TestUploadTokenNamesItsKey: with keys that have ids, an uploadId names
// the one that signed it; a server with the key (among others, mid-rotation)
// takes it, a server without it says which key it lacks, and a forged id
// of a key it has is no upload at all.
func TestUploadTokenNamesItsKey(t *testing.T) {
	a, b := newCore(t), newCore(t)
	old := sign.Key{ID: "old", Secret: []byte(strings.Repeat("o", 32))}
	cur := sign.Key{ID: "cur", Secret: []byte(strings.Repeat("c", 32))}
	a.cfg.Signer, _ = sign.NewKeys(old)
	b.cfg.Signer, _ = sign.NewKeys(cur, old)
	rec := meta.File{Tenant: "tenant-a", ID: "file-1"}
	tok := a.newToken(rec, uploadToken{size: 5 << 30, partSize: 16 << 20})
	if !strings.HasPrefix(tok.String(), "5368709120-16777216-"+a.cfg.Signer.SigningID()+".") || !strings.Contains(tok.String(), "-old_") {
		t.Fatalf("uploadId %s does not name its key", tok)
	}
	if got, err := b.parseToken(rec, tok.String()); err != nil || got != tok {
		t.Fatalf("a rotated server: %+v, %v", got, err)
	}
	newer := b.newToken(rec, uploadToken{size: 5 << 30, partSize: 16 << 20})
	var uk *sign.UnknownKeyError
	if _, err := a.parseToken(rec, newer.String()); !errors.As(err, &uk) || uk.ID != "cur" {
		t.Fatalf("a server without the key: %v, want it to name key cur", err)
	}
	forged := strings.Replace(newer.String(), b.cfg.Signer.SigningID()+".", a.cfg.Signer.SigningID()+".", 1)
	if _, err := a.parseToken(rec, forged); err != ErrUploadNotFound {
		t.Fatalf("another key's MAC under a known key id: %v, want ErrUploadNotFound", err)
	}
}
