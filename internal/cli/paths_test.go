package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tree makes files (relative paths; content is the path) under a new directory.
func tree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestExpandNamesFilesAsRsyncDoes(t *testing.T) {
	root := tree(t, "reports/a/x.txt", "reports/b/x.txt", "reports/b/c/y.log", "reports/.env", "reports/.git/HEAD",
		"reports/.hg/x", "reports/top.txt", "lone.txt", "other/z.txt")
	if err := os.Symlink(filepath.Join(root, "lone.txt"), filepath.Join(root, "reports", "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "other"), filepath.Join(root, "dirlink")); err != nil {
		t.Fatal(err)
	}
	in := func(p string) string { return filepath.Join(root, p) }
	tests := []struct {
		name      string
		args      []string
		sel       selection
		want      []string // names
		warnings  []string // substrings, one per warning, in order
		problems  int
		wantPaths []string // paths, when checked
	}{
		{name: "a directory keeps its own name", args: []string{in("reports")},
			want:     []string{"reports/a/x.txt", "reports/b/c/y.log", "reports/b/x.txt", "reports/top.txt"},
			warnings: []string{"link.txt: a symbolic link, not followed"}},
		{name: "a trailing slash names the contents", args: []string{in("reports") + "/"},
			want: []string{"a/x.txt", "b/c/y.log", "b/x.txt", "top.txt"}, warnings: []string{"symbolic link"}},
		{name: "a file named directly keeps its base name", args: []string{in("reports/a/x.txt"), in("lone.txt")},
			want: []string{"x.txt", "lone.txt"}},
		{name: "a symbolic link named directly is followed", args: []string{in("reports/link.txt"), in("dirlink")},
			want: []string{"link.txt", "dirlink/z.txt"}, wantPaths: []string{in("reports/link.txt"), in("dirlink/z.txt")}},
		{name: "--hidden takes dotfiles and version control too", args: []string{in("reports") + "/"}, sel: selection{hidden: true},
			want: []string{".env", ".git/HEAD", ".hg/x", "a/x.txt", "b/c/y.log", "b/x.txt", "top.txt"}, warnings: []string{"symbolic link"}},
		{name: "a dotfile named directly is uploaded", args: []string{in("reports/.env")}, want: []string{".env"}},
		{name: "--exclude without / matches at any depth", args: []string{in("reports")}, sel: selection{exclude: []string{"*.log", "top.*"}},
			want: []string{"reports/a/x.txt", "reports/b/x.txt"}, warnings: []string{"symbolic link"}},
		{name: "--exclude of a directory prunes it", args: []string{in("reports")}, sel: selection{exclude: []string{"b"}},
			want: []string{"reports/a/x.txt", "reports/top.txt"}, warnings: []string{"symbolic link"}},
		{name: "--include with ** and /", args: []string{in("reports")}, sel: selection{include: []string{"reports/**/x.txt"}},
			want: []string{"reports/a/x.txt", "reports/b/x.txt"}, warnings: []string{"symbolic link"}},
		{name: "** matches no directory too", args: []string{in("reports")}, sel: selection{include: []string{"reports/**/top.txt"}},
			want: []string{"reports/top.txt"}, warnings: []string{"symbolic link"}},
		{name: "--exclude wins over --include", args: []string{in("reports")},
			sel:  selection{include: []string{"*.txt"}, exclude: []string{"reports/a/*"}},
			want: []string{"reports/b/x.txt", "reports/top.txt"}, warnings: []string{"symbolic link"}},
		{name: "a missing path is a problem, the rest still expand", args: []string{in("nope"), in("lone.txt")},
			want: []string{"lone.txt"}, warnings: []string{"nope: no such file or directory"}, problems: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warnings []string
			got, problems := expand(tt.args, tt.sel, func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) })
			var names, paths []string
			for _, s := range got {
				names, paths = append(names, s.name), append(paths, s.path)
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("names %q, want %q", names, tt.want)
			}
			if tt.wantPaths != nil && !slices.Equal(paths, tt.wantPaths) {
				t.Errorf("paths %q, want %q", paths, tt.wantPaths)
			}
			if problems != tt.problems || len(warnings) != len(tt.warnings) {
				t.Fatalf("%d problems, warnings %q; want %d and %q", problems, warnings, tt.problems, tt.warnings)
			}
			for i, w := range tt.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %q, want it to say %q", warnings[i], w)
				}
			}
		})
	}
}

func TestDirPrefixFollowsTheTrailingSlash(t *testing.T) {
	for arg, want := range map[string]string{"reports": "reports", "a/reports": "reports", "reports/": "", ".": "", "./": "",
		"..": "", "/": "", "reports/.": "", "./reports": "reports"} {
		if got := dirPrefix(arg); got != want {
			t.Errorf("dirPrefix(%q) = %q, want %q", arg, got, want)
		}
	}
}

func TestMatchAny(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"*.txt", "a/b/c.txt", true},
		{"*.txt", "c.txt", true},
		{"*.txt", "a.txt/b", false},
		{"a/*.txt", "a/b.txt", true},
		{"a/*.txt", "a/b/c.txt", false},
		{"a/**/*.txt", "a/c.txt", true},
		{"a/**/*.txt", "a/b/d/c.txt", true},
		{"**/c.txt", "c.txt", true},
		{"a/**", "a/b/c", true},
		{"a/**", "b/a/c", false},
		{"[ab]?", "x/bz", true},
	} {
		if got := matchAny([]string{tc.pattern}, tc.name); got != tc.want {
			t.Errorf("%q matching %q: %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
	if err := (selection{exclude: []string{"[a"}}).check(); err == nil {
		t.Error("a malformed glob was accepted")
	}
}
