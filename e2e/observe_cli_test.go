package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
)

// TestListAndDownloadThroughCLI drives perseus file ls and perseus file
// download against perseus serve on its embedded default.
func TestListAndDownloadThroughCLI(t *testing.T) {
	srv := startServer(t, t.TempDir())
	work := t.TempDir()
	var ids []string // newest last
	contents := map[string][]byte{}
	for _, name := range []string{"alpha.bin", "beta.bin", "alpine.bin"} {
		p, _ := writeRandom(t, work, name, 200_000)
		out, errOut, code := cli(t, srv, "file", "upload", p, "--json")
		if code != 0 {
			t.Fatalf("upload %s: %d %s", name, code, errOut)
		}
		var f perseus.File
		if err := json.Unmarshal([]byte(out), &f); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, f.ID)
		contents[f.ID], _ = os.ReadFile(p)
	}

	out, errOut, code := cli(t, srv, "file", "ls", "--json")
	if code != 0 {
		t.Fatalf("ls: %d %s", code, errOut)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var f perseus.File
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("ls --json line %q: %v", line, err)
		}
		got = append(got, f.ID)
	}
	if strings.Join(got, " ") != strings.Join([]string{ids[2], ids[1], ids[0]}, " ") {
		t.Errorf("ls = %v, want newest first %v", got, ids)
	}
	out, _, code = cli(t, srv, "file", "ls", "--prefix", "alp", "--status", "uploaded", "--limit", "1")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, ids[2]) || !strings.Contains(out, "alpine.bin") {
		t.Errorf("ls --prefix alp --limit 1: %d %q", code, out)
	}
	if _, errOut, code := cli(t, srv, "file", "ls", "--status", "done"); code != 2 || !strings.Contains(errOut, "--status") {
		t.Errorf("ls --status done: exit %d, %q; want a usage error", code, errOut)
	}

	dl := t.TempDir()
	target := filepath.Join(dl, "copy.bin")
	if _, errOut, code := cli(t, srv, "file", "download", ids[0], "-o", target); code != 0 {
		t.Fatalf("download -o: %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(target); !bytes.Equal(b, contents[ids[0]]) {
		t.Error("download -o wrote other bytes")
	}
	out, errOut, code = cli(t, srv, "file", "download", ids[1], "-o", "-")
	if code != 0 || out != string(contents[ids[1]]) {
		t.Errorf("download -o -: %d, %d bytes, %s", code, len(out), errOut)
	}
	if _, errOut, code := cliIn(t, srv, dl, "file", "download", ids[2]); code != 0 {
		t.Fatalf("download to the file's name: %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dl, "alpine.bin")); !bytes.Equal(b, contents[ids[2]]) {
		t.Error("download without -o did not write alpine.bin")
	}
	if _, errOut, code := cliIn(t, srv, dl, "file", "download", ids[2]); code != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("download over an existing file without -o: %d %q", code, errOut)
	}
	if _, errOut, code := cli(t, srv, "file", "download", "no-such-id", "-o", filepath.Join(dl, "x")); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("download of an unknown id: %d %q", code, errOut)
	}
	if entries, _ := os.ReadDir(dl); len(entries) != 2 {
		t.Errorf("download dir holds %d entries, want copy.bin and alpine.bin only", len(entries))
	}
}

// TestServeObservability checks, on the real binary, the metrics, the
// OpenAPI document, request ids and JSON access logs.
func TestServeObservability(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--log-format", "json")
	req, _ := http.NewRequest("GET", srv.URL+"/api/v0/file", nil)
	req.Header.Set("Authorization", "Bearer "+srv.Key)
	req.Header.Set("X-Request-Id", "e2e-trace-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("X-Request-Id") != "e2e-trace-1" {
		t.Errorf("list: %d, X-Request-Id %q", res.StatusCode, res.Header.Get("X-Request-Id"))
	}
	for path, want := range map[string]string{
		"/metrics":             `perseus_http_requests_total{code="200",route="GET /api/v0/file"} 1`,
		"/api/v0/openapi.json": `"openapi": "3.0.3"`,
	} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, no %q", path, res.StatusCode, want)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(srv.log.String(), `"request_id":"e2e-trace-1"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no JSON access log line with the request id in:\n%s", srv.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeRefusesBadConfigurationInOneLine checks that perseus serve stops
// at once, with one line naming the flag, on configurations it cannot run.
func TestServeRefusesBadConfigurationInOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--log-format", "xml"}, "", "--log-format"},
		{nil, "PERSEUS_LOG_FORMAT=xml", "--log-format"},
		{[]string{"--db", "mysql://x/y"}, "", "--db"},
		{[]string{"--db", "postgres://u:hunter2@127.0.0.1:1/db"}, "", "--db postgres://u:xxxxx@127.0.0.1:1/db"},
		{[]string{"--blobs", "s3://b?endpoint=http://127.0.0.1:1&region=us-east-1"}, "AWS_ACCESS_KEY_ID=x", "--blobs"},
		{[]string{"--max-file-size", "0"}, "", "--max-file-size"},
		{nil, "PERSEUS_MAX_FILE_SIZE=lots", "PERSEUS_MAX_FILE_SIZE"},
		{[]string{"--verify-interval", "0s"}, "", "--verify-interval"},
		{[]string{"--s3-events-token", "short"}, "", "--s3-events-token"},
		{nil, "PERSEUS_S3_EVENTS_TOKEN=short", "--s3-events-token"},
		{[]string{"--s3-events-token", "0123456789abcdef0123"}, "", "--s3-events-token: only an S3 store"},
		{[]string{"--upload-url-ttl", "2h"}, "", "--upload-url-ttl"},
		{[]string{"--public-url", "ftp://x"}, "", "--public-url"},
		{[]string{"--signing-key", "0123456789abcdef0123456789abcdef"}, "", "--signing-key"},
		{[]string{"--signing-key", "k1=short"}, "", "--signing-key"},
		{[]string{"--signing-key", "k-1=0123456789abcdef0123456789abcdef"}, "", "--signing-key"},
		{nil, "PERSEUS_SIGNING_KEY=k1=short", "--signing-key"},
		{[]string{"--signing-key-file", "/nonexistent/keys"}, "", "--signing-key-file"},
	} {
		cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)...)
		cmd.Env = append(os.Environ(), "AWS_SECRET_ACCESS_KEY=x", "AWS_EC2_METADATA_DISABLED=true")
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		start := time.Now()
		err := cmd.Run()
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
			if strings.HasPrefix(l, "perseus: ") && !strings.Contains(l, "development API key") {
				lines = append(lines, l)
			}
		}
		if err == nil || len(lines) != 1 || !strings.Contains(lines[0], tc.want) || strings.Contains(errb.String(), "hunter2") {
			t.Errorf("serve %v %s: %v; want one line naming %q, got:\n%s", tc.args, tc.env, err, tc.want, errb.String())
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("serve %v took %v to refuse", tc.args, d)
		}
	}
}

// TestVersionPrintsBuildInfo checks perseus version, and that a binary built
// from the git checkout names its commit.
func TestVersionPrintsBuildInfo(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "perseus "+perseus.Version+"\n") || !strings.Contains(string(out), "go: go1.") {
		t.Fatalf("version: %v\n%s", err, out)
	}
	rev, err := exec.Command("git", "-C", "..", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout (or no git): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "perseus")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "../cmd/perseus")
	build.Env = append(os.Environ(), "GOFLAGS=")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, b)
	}
	out, err = exec.Command(bin, "version").Output()
	if want := "vcs.revision: " + strings.TrimSpace(string(rev)); err != nil || !strings.Contains(string(out), want) {
		t.Errorf("version of a binary built from git: %v\n%s\nwant %q", err, out, want)
	}
}
