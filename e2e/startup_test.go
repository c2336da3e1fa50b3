package e2e

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveOnce runs perseus serve expecting it to refuse to start, with env
// (PERSEUS_SIGNING_KEY removed unless env sets it), and returns its stderr.
func serveOnce(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PERSEUS_SIGNING_KEY=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errb, &errb
	if err := cmd.Run(); err == nil {
		t.Fatalf("serve %v started; want a refusal", args)
	}
	return errb.String()
}

// TestServeMakesNoKeyOffTheEmbeddedDefault: against PostgreSQL a server
// neither makes nor prints a development key: without a signing key, or
// without any API key, it refuses to start in one line that says what to do.
func TestServeMakesNoKeyOffTheEmbeddedDefault(t *testing.T) {
	pg := freshSchema(t)
	data := filepath.Join(t.TempDir(), "data")
	out := serveOnce(t, nil, "--addr", "127.0.0.1:0", "--data", data, "--db", pg, "--api-key", "k")
	if !strings.Contains(out, "--signing-key is required") {
		t.Errorf("without a signing key: %q", out)
	}
	out = serveOnce(t, []string{"PERSEUS_SIGNING_KEY=" + fleetSigningKey}, "--addr", "127.0.0.1:0", "--data", data, "--db", pg)
	if !strings.Contains(out, "no API key") || !strings.Contains(out, "perseus keys create") || strings.Contains(out, "development API key") {
		t.Errorf("without an API key: %q", out)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("--data %s was made by a server that did not start: %v", data, err)
	}
}

// TestFailedStartLeavesNothingBehind: a server that cannot bind its port,
// or cannot reach its S3 store, makes no database, no key and no --data.
func TestFailedStartLeavesNothingBehind(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	data := filepath.Join(t.TempDir(), "data")
	out := serveOnce(t, nil, "--addr", taken.Addr().String(), "--data", data)
	if !strings.Contains(out, "--addr") || strings.Contains(out, "development API key") {
		t.Errorf("on a taken port: %q", out)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("a start that could not bind left %s: %v", data, err)
	}
	out = serveOnce(t, []string{"PERSEUS_SIGNING_KEY=" + fleetSigningKey, "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_EC2_METADATA_DISABLED=true"},
		"--addr", "127.0.0.1:0", "--data", data, "--api-key", "k", "--blobs", "s3://b?endpoint=http://127.0.0.1:1&region=us-east-1")
	if !strings.Contains(out, "--blobs") {
		t.Errorf("with S3 unreachable: %q", out)
	}
	if _, err := os.Stat(filepath.Join(data, "meta.db")); !os.IsNotExist(err) {
		t.Errorf("a start that could not reach S3 made %s: %v", filepath.Join(data, "meta.db"), err)
	}
}

// TestServeWithoutTLSSurvivesSIGHUP: systemctl reload sends SIGHUP; a
// server without a certificate to reload logs it and goes on serving.
func TestServeWithoutTLSSurvivesSIGHUP(t *testing.T) {
	srv := startServer(t, t.TempDir())
	srv.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatalf("after SIGHUP: %v\n%s", err, srv.log.String())
	}
	resp.Body.Close()
	if !strings.Contains(srv.log.String(), "nothing to reload") {
		t.Errorf("SIGHUP was not logged:\n%s", srv.log.String())
	}
}

// TestDevelopmentKeyEndsWithTheFirstStoredKey: on the embedded default the
// development key works until keys are created in the store; from the next
// start on, it is refused, and the start says so.
func TestDevelopmentKeyEndsWithTheFirstStoredKey(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data)
	dev := srv.Key
	if dev == "" {
		t.Fatal("no development key on the embedded default")
	}
	keysCLI(t, "create", "--tenant", "team-1", "--data", data)
	srv.stop(t)
	again := startServer(t, data)
	if !strings.Contains(again.log.String(), "no longer accepted") {
		t.Errorf("the restart does not say the development key ended:\n%s", again.log.String())
	}
	req, _ := http.NewRequest("GET", again.URL+"/api/v0/file", nil)
	req.Header.Set("Authorization", "Bearer "+dev)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the development key after keys were created: %d, want 401", resp.StatusCode)
	}
}
