package server

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// nameCases are names and whether checkName accepts them.
var nameCases = []struct {
	name string
	ok   bool
}{
	{"report.pdf", true},
	{"reports/a/x.txt", true},
	{"a/b", true},
	{".hidden", true},
	{"dir/.hidden", true},
	{"...", true},
	{"a/.../b", true},
	{"..a/b..", true},
	{"a.b/c.d", true},
	{"é/ü/日本語.txt", true},
	{"with space/and:colon", true},
	{strings.Repeat("n", 1024), true},
	{strings.Repeat("a/", 511) + "bc", true}, // 1024 bytes, 512 segments

	{"", false},
	{strings.Repeat("n", 1025), false},
	{"/a", false},
	{"/", false},
	{"a/", false},
	{"a//b", false},
	{"//", false},
	{".", false},
	{"..", false},
	{"./a", false},
	{"../a", false},
	{"a/.", false},
	{"a/..", false},
	{"a/./b", false},
	{"a/../b", false},
	{`a\b`, false},
	{`..\a`, false},
	{"a\nb", false},
	{"a\x00b", false},
	{"a\x7fb", false},
	{"a\u0085b", false}, // a C1 control character
	{"a\xffb", false},   // not UTF-8
}

func TestCheckNameAcceptsRelativePathsAndNothingThatEscapes(t *testing.T) {
	for _, tc := range nameCases {
		n := tc.name
		err := checkName(&n)
		if (err == nil) != tc.ok {
			t.Errorf("checkName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && (err.Code != "invalid_name" || err.Status != http.StatusBadRequest) {
			t.Errorf("checkName(%q): %d %s, want 400 invalid_name", tc.name, err.Status, err.Code)
		}
	}
	if err := checkName(nil); err == nil || !strings.Contains(err.Message, "missing") {
		t.Errorf("checkName(nil) = %v, want a missing name", err)
	}
}

// namePattern is the pattern openapi.json gives names.
func namePattern(t testing.TB) *regexp.Regexp {
	t.Helper()
	s := loadSpec(t).Components.Schemas["Name"]
	if s == nil || s.Value == nil || s.Value.Pattern == "" {
		t.Fatal("openapi.json has no Name schema with a pattern")
	}
	return regexp.MustCompile(s.Value.Pattern)
}

// documentAccepts reports whether the document's Name schema accepts n.
func documentAccepts(re *regexp.Regexp, n string) bool {
	return utf8.ValidString(n) && len(n) >= 1 && len(n) <= 1024 && re.MatchString(n)
}

func TestOpenAPINamePatternAgreesWithTheServer(t *testing.T) {
	re := namePattern(t)
	for _, tc := range nameCases {
		if got := documentAccepts(re, tc.name); got != tc.ok {
			t.Errorf("the document's pattern says %v for %q, the server %v", got, tc.name, tc.ok)
		}
	}
	for _, ref := range []string{
		loadSpec(t).Components.Schemas["CreateRequest"].Value.Properties["name"].Ref,
		loadSpec(t).Paths.Value("/api/v0/file/stream").Post.Parameters.GetByInAndName("query", "name").Schema.Ref,
	} {
		if ref != "#/components/schemas/Name" {
			t.Errorf("a name's schema is %q, want the Name schema", ref)
		}
	}
}

func FuzzCheckNameAgreesWithTheDocument(f *testing.F) {
	for _, tc := range nameCases {
		f.Add(tc.name)
	}
	re := namePattern(f)
	f.Fuzz(func(t *testing.T, n string) {
		if got, want := checkName(&n) == nil, documentAccepts(re, n); got != want {
			t.Fatalf("checkName(%q) ok %v, the document's pattern %v", n, got, want)
		}
		if checkName(&n) == nil {
			for seg := range strings.SplitSeq(n, "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("accepted %q, whose segment %q escapes or is empty", n, seg)
				}
			}
		}
	})
}

func TestNamesWithRelativePathsAreCreatedStreamedAndListedByPrefix(t *testing.T) {
	e := newEnv(t)
	a := e.upload(keyA, "reports/a/x.txt", []byte("first x"))
	b := e.upload(keyA, "reports/b/x.txt", []byte("second x"))
	if a.Name != "reports/a/x.txt" || b.Name != "reports/b/x.txt" {
		t.Fatalf("names %q and %q", a.Name, b.Name)
	}
	if r, _ := e.stream(keyA, "reports/c/y.bin", []byte("streamed y")); r.status != http.StatusCreated || r.Rec == nil || r.Rec.Name != "reports/c/y.bin" {
		t.Fatalf("stream: %d %s", r.status, r.body)
	}
	e.upload(keyA, "elsewhere/x.txt", []byte("third x"))
	l := e.call("GET", "/api/v0/file?namePrefix="+url.QueryEscape("reports/"), keyA, nil)
	if l.status != http.StatusOK {
		t.Fatalf("list: %d %s", l.status, l.body)
	}
	var names []string
	for _, f := range l.Files {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	if want := []string{"reports/a/x.txt", "reports/b/x.txt", "reports/c/y.bin"}; !slices.Equal(names, want) {
		t.Errorf("listed %q under reports/, want %q", names, want)
	}
}

func TestEveryNameTheServerRefusesIsInvalidName(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"a//b", "/a", "a/../b", "a/./b", "a/", "../a", `a\b`} {
		if r := e.create(keyA, n, []byte("x")); r.status != http.StatusBadRequest || r.Code != "invalid_name" {
			t.Errorf("create %q: %d %s, want 400 invalid_name", n, r.status, r.body)
		}
		if r, read := e.stream(keyA, n, []byte("x")); r.status != http.StatusBadRequest || r.Code != "invalid_name" || read != 0 {
			t.Errorf("stream %q: %d %s (%d bytes read), want 400 invalid_name", n, r.status, r.body, read)
		}
	}
}
