package ingest

import (
	"testing"

	"github.com/perseus-go/perseus/internal/sha256chain"
	"github.com/perseus-go/perseus/store/blob"
)

func TestPartRecordNamesReadBack(t *testing.T) {
	for _, pr := range []partRecord{
		{number: 3, etag: "d41d8cd98f00b204e9800998ecf8427e", from: sha256chain.IV, to: sha256chain.IV, check: "LTs1ATUpixo="},
		{number: 10000, etag: "odd/etag with spaces", to: sha256chain.IV, check: "x"},
	} {
		got, ok := parsePartRecord(pr.name())
		if !ok || got != pr {
			t.Errorf("parsePartRecord(%q) = %+v, %v; want %+v", pr.name(), got, ok, pr)
		}
	}
	for _, bad := range []string{"", "1.2.3", "x.00.-.aa.00", "0.00.-.aa.00", "1.zz.-.aa.00"} {
		if _, ok := parsePartRecord(bad); ok {
			t.Errorf("parsePartRecord(%q) took it", bad)
		}
	}
}

// TestARecordStandsForAPartOnlyWhenNoneSaysOtherwise: two records of one
// number and ETag that disagree (two writes of bytes sharing an MD5) stand
// for nothing.
func TestARecordStandsForAPartOnlyWhenNoneSaysOtherwise(t *testing.T) {
	a := partRecord{number: 1, etag: `"e1"`, from: "f", to: "t", check: "c"}
	if got, ok := standsFor([]partRecord{a}, "e1"); !ok || got != a {
		t.Errorf("one record with the listed ETag (quotes aside) = %+v, %v", got, ok)
	}
	if _, ok := standsFor([]partRecord{a}, `"e2"`); ok {
		t.Error("a record of another ETag stood for the part")
	}
	if _, ok := standsFor([]partRecord{a, a}, `"e1"`); !ok {
		t.Error("two records saying the same stood for nothing")
	}
	for _, other := range []partRecord{
		{number: 1, etag: "e1", from: "g", to: "t", check: "c"},
		{number: 1, etag: "e1", from: "f", to: "u", check: "c"},
		{number: 1, etag: "e1", from: "f", to: "t", check: "d"},
	} {
		if got, ok := standsFor([]partRecord{a, other}, `"e1"`); ok {
			t.Errorf("records %+v and %+v disagree, but %+v stood for the part", a, other, got)
		}
	}
}

func TestChainSumNeedsAnUnbrokenChainFromTheStart(t *testing.T) {
	p := func(from, to string) blob.Part { return blob.Part{From: from, SHA256: to, Check: "c"} }
	if sum, ok := chainSum([]blob.Part{p(sha256chain.IV, "a"), p("a", "b"), p("b", "whole")}); !ok || sum != "whole" {
		t.Errorf("chainSum of a chain = %q, %v", sum, ok)
	}
	if sum, ok := chainSum([]blob.Part{{Number: 1, SHA256: "whole", Check: "c"}}); !ok || sum != "whole" {
		t.Errorf("chainSum of a whole checked as one unchained part = %q, %v", sum, ok)
	}
	for name, parts := range map[string][]blob.Part{
		"none":            nil,
		"not from the IV": {p("x", "a"), p("a", "whole")},
		"broken":          {p(sha256chain.IV, "a"), p("b", "whole")},
		"unchained part":  {p(sha256chain.IV, "a"), p("", "whole")},
		"no check":        {p(sha256chain.IV, "a"), {From: "a", SHA256: "whole"}},
		"two unchained":   {p("", "a"), p("", "whole")},
		"one, no check":   {{Number: 1, SHA256: "whole"}},
		"one, not part 1": {{Number: 2, SHA256: "whole", Check: "c"}},
	} {
		if sum, ok := chainSum(parts); ok {
			t.Errorf("%s: chainSum = %q, true", name, sum)
		}
	}
}
