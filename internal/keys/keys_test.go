package keys

import (
	"testing"

	"github.com/perseus-go/perseus/store/meta"
)

const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// TestContentKeyFollowsTheKindNotTheID: where content lives is decided by
// the record's kind; the id, whatever its shape, only names the leaf.
func TestContentKeyFollowsTheKindNotTheID(t *testing.T) {
	for _, tc := range []struct {
		f    meta.File
		want string
	}{
		{meta.File{Tenant: "t1", ID: "0194f6a2-7c3e-7abc-8def-0123456789ab", SourceHash: hash, Kind: meta.KindHashed},
			"files/t1/9f/" + hash + "/0194f6a2-7c3e-7abc-8def-0123456789ab"},
		// A version digit of 8, which once marked a streamed record, means nothing now.
		{meta.File{Tenant: "t1", ID: "0194f6a2-7c3e-8abc-8def-0123456789ab", SourceHash: hash, Kind: meta.KindHashed},
			"files/t1/9f/" + hash + "/0194f6a2-7c3e-8abc-8def-0123456789ab"},
		{meta.File{Tenant: "t1", ID: "0194f6a2-7c3e-7abc-8def-0123456789ab", SourceHash: hash, Kind: meta.KindStreamed},
			"files/t1/streamed/0194f6a2-7c3e-7abc-8def-0123456789ab"},
	} {
		if got := Content(tc.f); got != tc.want {
			t.Errorf("Content(%+v) = %s, want %s", tc.f, got, tc.want)
		}
	}
}

// TestEveryKeyBelongsToItsRecord: the sweeper finds the record of every
// key the layout makes, and of nothing else.
func TestEveryKeyBelongsToItsRecord(t *testing.T) {
	f := meta.File{Tenant: "t1", ID: "id-1", SourceHash: hash}
	streamed := f
	streamed.Kind = meta.KindStreamed
	for _, k := range []string{Content(f), Content(streamed), StagingDir("t1", "id-1") + "nonce", Multipart("t1", "id-1", "1-1-x")} {
		if got := RecordOf(k); got != "id-1" {
			t.Errorf("RecordOf(%s) = %q, want id-1", k, got)
		}
	}
	for _, k := range []string{"files/t1/x", "other/t1/id-1/x", "multipart/t1/id-1", Multipart("t1", "id-1", "o1-1-x"), ""} {
		if got := RecordOf(k); got != "" {
			t.Errorf("RecordOf(%s) = %q, want none", k, got)
		}
	}
	if tenant, id, err := Staged(StagingDir("t1", "id-1") + "nonce"); err != nil || tenant != "t1" || id != "id-1" {
		t.Errorf("Staged = %q, %q, %v", tenant, id, err)
	}
	if _, _, err := Staged("staging/t1/id-1"); err == nil {
		t.Error("Staged accepted a key without its nonce")
	}
}

func TestOpenMarker(t *testing.T) {
	for key, want := range map[string]bool{
		"multipart/t/0190f5c2-7b1e-7cc3-9a52-3f1d2e4b5a69/o10-4-0123": true,
		"multipart/t/0190f5c2-7b1e-7cc3-9a52-3f1d2e4b5a69/10-4-0123":  false,
		"files/t/streamed/o10": false,
		"staging/t/id/o1":      false,
	} {
		if got := OpenMarker(key); got != want {
			t.Errorf("OpenMarker(%q) = %v, want %v", key, got, want)
		}
	}
}
