package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/perseus-go/perseus"
)

// jsonFiles parses one File per line.
func jsonFiles(t *testing.T, out string) []perseus.File {
	t.Helper()
	var files []perseus.File
	for line := range strings.Lines(out) {
		var f perseus.File
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		files = append(files, f)
	}
	return files
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// pathsTree lays out the working directory the upload cases run in. Every
// file's content is its path, so each is new content to the server.
func pathsTree(t *testing.T) string {
	t.Helper()
	work := t.TempDir()
	for _, f := range []string{"reports/a/x.txt", "reports/b/x.txt", "reports/b/notes.tmp", "reports/.env",
		"reports/.git/HEAD", "outside.txt"} {
		p := filepath.Join(work, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("content of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../outside.txt", filepath.Join(work, "reports", "link")); err != nil {
		t.Fatal(err)
	}
	return work
}

// TestUploadPathsAndStdinThroughCLI drives perseus file upload's naming,
// selection, symlink, missing-path and stdin behaviour against perseus
// serve, each case on a server of its own.
func TestUploadPathsAndStdinThroughCLI(t *testing.T) {
	stdin := []byte("bytes from a pipe, not a file\n")
	tests := []struct {
		name      string
		args      []string
		stdin     []byte
		wantCode  int
		want      map[string]string // name → content, of what is printed and what the server lists
		wantError []string          // in stderr
	}{
		{name: "a directory keeps names relative to the argument, like rsync", args: []string{"reports"},
			want: map[string]string{"reports/a/x.txt": "content of reports/a/x.txt", "reports/b/x.txt": "content of reports/b/x.txt",
				"reports/b/notes.tmp": "content of reports/b/notes.tmp"},
			wantError: []string{"reports/link: a symbolic link, not followed"}},
		{name: "a trailing slash uploads the directory's contents", args: []string{"reports/"},
			want: map[string]string{"a/x.txt": "content of reports/a/x.txt", "b/x.txt": "content of reports/b/x.txt",
				"b/notes.tmp": "content of reports/b/notes.tmp"},
			wantError: []string{"symbolic link"}},
		{name: "--name names a single file", args: []string{"outside.txt", "--name", "docs/renamed.txt"},
			want: map[string]string{"docs/renamed.txt": "content of outside.txt"}},
		{name: "--name with two paths is a usage error", args: []string{"outside.txt", "reports/a/x.txt", "--name", "n"},
			wantCode: 2, wantError: []string{"--name"}},
		{name: "--name with a directory is a usage error", args: []string{"reports", "--name", "n"},
			wantCode: 2, wantError: []string{"directory"}},
		{name: "--include and --exclude select by name", args: []string{"reports", "--include", "*.txt", "--exclude", "reports/b/**"},
			want: map[string]string{"reports/a/x.txt": "content of reports/a/x.txt"}, wantError: []string{"symbolic link"}},
		{name: "dotfiles and .git are skipped by default", args: []string{"reports/", "--exclude", "*.txt", "--exclude", "*.tmp"},
			wantCode: 2, wantError: []string{"no files to upload"}},
		{name: "--hidden uploads dotfiles and .git", args: []string{"reports/", "--hidden", "--exclude", "*.txt", "--exclude", "*.tmp"},
			want:      map[string]string{".env": "content of reports/.env", ".git/HEAD": "content of reports/.git/HEAD"},
			wantError: []string{"symbolic link"}},
		{name: "a symbolic link named on the command line is followed", args: []string{"reports/link"},
			want: map[string]string{"link": "content of outside.txt"}},
		{name: "a missing path is reported and the rest still uploads", args: []string{"nope.txt", "outside.txt", "reports/a/x.txt"},
			wantCode: 1, want: map[string]string{"outside.txt": "content of outside.txt", "x.txt": "content of reports/a/x.txt"},
			wantError: []string{"nope.txt: no such file or directory", "1 of the given paths"}},
		{name: "- reads stdin as --name", args: []string{"-", "--name", "piped/in.txt"}, stdin: stdin,
			want: map[string]string{"piped/in.txt": string(stdin)}},
		{name: "- without --name is a usage error", args: []string{"-"}, stdin: stdin, wantCode: 2, wantError: []string{"--name"}},
		{name: "- with other paths is a usage error", args: []string{"-", "outside.txt", "--name", "n"}, stdin: stdin, wantCode: 2},
		{name: "a pipe named as a path, alone with --name, is read once", args: []string{"/dev/stdin", "--name", "p.txt"}, stdin: stdin,
			want: map[string]string{"p.txt": string(stdin)}},
		{name: "a pipe named as a path without --name is refused, recording nothing", args: []string{"/dev/stdin"}, stdin: stdin,
			wantCode: 1, wantError: []string{"not a regular file"}},
		{name: "a name the server refuses is its error", args: []string{"outside.txt", "--name", "a//b"},
			wantCode: 1, wantError: []string{"400", "empty path segment"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, t.TempDir())
			work := pathsTree(t)
			out, errOut, code := cliWith(t, srv, work, tt.stdin, append([]string{"file", "upload", "--json"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("perseus file upload %v: exit %d, want %d\nstdout %s\nstderr %s", tt.args, code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantError {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not say %q", errOut, w)
				}
			}
			printed := map[string]perseus.File{}
			for _, f := range jsonFiles(t, out) {
				printed[f.Name] = f
			}
			if len(printed) != len(tt.want) {
				t.Errorf("printed %d files %v, want %d", len(printed), slices.Collect(maps.Keys(printed)), len(tt.want))
			}
			for name, content := range tt.want {
				f, ok := printed[name]
				if !ok || f.SourceHash != hashOf([]byte(content)) || f.Size != int64(len(content)) {
					t.Errorf("file %q: %+v, want content %q", name, f, content)
				}
			}
			// What the server has is what was printed, no more (no pending record).
			lsOut, lsErr, lsCode := cliWith(t, srv, work, nil, "file", "ls", "--json")
			if lsCode != 0 {
				t.Fatalf("ls: %d %s", lsCode, lsErr)
			}
			listed := jsonFiles(t, lsOut)
			if len(listed) != len(tt.want) {
				t.Errorf("the server lists %+v, want %d files", listed, len(tt.want))
			}
			for _, f := range listed {
				if _, ok := tt.want[f.Name]; !ok || f.Status != perseus.StatusUploaded {
					t.Errorf("the server lists %+v", f)
				}
			}
		})
	}
}

// TestTwoFilesOfOneBaseNameInTwoFoldersAreListedByPrefix is the issue's
// case: a/x.txt and b/x.txt stay two names, and ls --prefix finds them.
func TestTwoFilesOfOneBaseNameInTwoFoldersAreListedByPrefix(t *testing.T) {
	srv := startServer(t, t.TempDir())
	work := pathsTree(t)
	if out, errOut, code := cliWith(t, srv, work, nil, "file", "upload", "reports", "outside.txt"); code != 0 {
		t.Fatalf("upload: %d %s %s", code, out, errOut)
	}
	out, errOut, code := cliWith(t, srv, work, nil, "file", "ls", "--prefix", "reports/", "--json")
	if code != 0 {
		t.Fatalf("ls: %d %s", code, errOut)
	}
	var names []string
	for _, f := range jsonFiles(t, out) {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	if want := []string{"reports/a/x.txt", "reports/b/notes.tmp", "reports/b/x.txt"}; !slices.Equal(names, want) {
		t.Errorf("ls --prefix reports/ = %q, want %q", names, want)
	}
}

// TestServerRefusesNamesThatAreNotCleanRelativePaths holds perseus serve's
// create and stream to the name rules.
func TestServerRefusesNamesThatAreNotCleanRelativePaths(t *testing.T) {
	srv := startServer(t, t.TempDir())
	hash := hashOf([]byte("x"))
	for _, name := range []string{"a//b", "/a", "a/../b", "a/./b", "a/", "..", `a\b`} {
		body, _ := json.Marshal(map[string]string{"name": name, "sourceHash": hash})
		for _, req := range []*http.Request{
			mustRequest(t, srv.URL+"/api/v0/file", body),
			mustRequest(t, srv.URL+"/api/v0/file/stream?name="+url.QueryEscape(name), []byte("x")),
		} {
			req.Header.Set("Authorization", "Bearer "+srv.Key)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Code, Message string }
			json.NewDecoder(res.Body).Decode(&e)
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest || e.Code != "invalid_name" || e.Message == "" {
				t.Errorf("%s %q: %d %+v, want 400 invalid_name", req.URL.Path, name, res.StatusCode, e)
			}
		}
	}
	body, _ := json.Marshal(map[string]string{"name": "reports/a/x.txt", "sourceHash": hash})
	req := mustRequest(t, srv.URL+"/api/v0/file", body)
	req.Header.Set("Authorization", "Bearer "+srv.Key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("create reports/a/x.txt: %d, want 201", res.StatusCode)
	}
}

// mustRequest is a POST of body to u.
func mustRequest(t *testing.T, u string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestUploadSaysWhatWasThereAlready: a re-upload says "already uploaded",
// a renamed copy says under which name its content is, and an upload of
// several files ends with one summary line.
func TestUploadSaysWhatWasThereAlready(t *testing.T) {
	srv := startServer(t, t.TempDir())
	dir := t.TempDir()
	writeRandom(t, dir, "a.bin", 1000)
	writeRandom(t, dir, "b.bin", 2000)
	out, errOut, code := cli(t, srv, "file", "upload", dir+"/")
	if code != 0 || !strings.Contains(errOut, "2 files: 2 new, 0 already uploaded, 0 failed") {
		t.Fatalf("first upload: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = cli(t, srv, "file", "upload", dir+"/")
	if code != 0 || strings.Count(out, "(already uploaded)") != 2 || !strings.Contains(errOut, "2 files: 0 new, 2 already uploaded, 0 failed") {
		t.Fatalf("second upload: exit %d\n%s\n%s", code, out, errOut)
	}
	copyDir := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(dir, "a.bin"))
	os.WriteFile(filepath.Join(copyDir, "renamed.bin"), b, 0o600)
	out, errOut, code = cli(t, srv, "file", "upload", filepath.Join(copyDir, "renamed.bin"))
	if code != 0 || !strings.Contains(out, "exists as a.bin") {
		t.Fatalf("renamed copy: exit %d\n%s\n%s", code, out, errOut)
	}
}
