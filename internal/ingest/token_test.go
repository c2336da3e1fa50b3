package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/perseus-go/perseus/store/meta"
)

func TestUploadTokenRoundTrips(t *testing.T) {
	srv := newCore(t)
	rec := meta.File{Tenant: "tenant-a", ID: "file-1"}
	tok := srv.newToken(rec, 5<<30, 16<<20, "")
	got, ok := srv.parseToken(rec, tok.String())
	if !ok || got != tok || tok.count() != 320 || tok.partLen(320) != 16<<20 {
		t.Fatalf("parseToken(%q) = %+v, %v", tok, got, ok)
	}
	mac := tok.salt + tok.mac
	for _, s := range []string{"", "1-2", "1-2-3", "0-1-" + mac, "1-0-" + mac, "01-1-" + mac,
		"1-1-0123456789abcdeg", "5368709120-16777216-" + mac + "-", "-5368709120-16777216-" + mac,
		fmt.Sprintf("%d-1-%s", uint64(1<<63), mac), "5368709121-16777216-" + mac, "5368709120-16777216-" + strings.ToUpper(mac)} {
		if _, ok := srv.parseToken(rec, s); ok {
			t.Errorf("parseToken(%q) accepted it", s)
		}
	}
	for _, other := range []meta.File{{Tenant: "tenant-b", ID: "file-1"}, {Tenant: "tenant-a", ID: "file-2"}} {
		if _, ok := srv.parseToken(other, tok.String()); ok {
			t.Errorf("parseToken accepted %s's uploadId for %+v", rec.ID, other)
		}
	}
}
