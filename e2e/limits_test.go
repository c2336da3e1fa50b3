package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestServeLimitFlagsAndVariablesReachTheServer starts perseus serve with
// limits given as flags and as environment variables, and reads them back
// from GET /api/v0/limits, then spends the key's burst.
func TestServeLimitFlagsAndVariablesReachTheServer(t *testing.T) {
	t.Setenv("PERSEUS_QUOTA_FILES", "7")
	t.Setenv("PERSEUS_RATE_BURST", "3")
	p := startServer(t, t.TempDir(), "--rate-limit", "0.5", "--quota-bytes", "5KiB")
	get := func() (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", p.URL+"/api/v0/limits", nil)
		req.Header.Set("Authorization", "Bearer "+p.Key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var l map[string]any
		json.NewDecoder(res.Body).Decode(&l)
		return res, l
	}
	res, l := get()
	want := map[string]float64{"rateLimit": 0.5, "rateBurst": 3, "quotaBytes": 5 << 10, "quotaFiles": 7, "usedFiles": 0, "usedBytes": 0}
	for k, v := range want {
		if res.StatusCode != http.StatusOK || l[k] != v {
			t.Errorf("limits: %d, %s = %v; want %v", res.StatusCode, k, l[k], v)
		}
	}
	get()
	get()
	if res, l := get(); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || l["code"] != "rate_limited" {
		t.Errorf("the fourth request at once: %d, Retry-After %q, %v; want 429 rate_limited with Retry-After", res.StatusCode, res.Header.Get("Retry-After"), l)
	}
}

// TestServeRefusesBadLimitsInOneLine: a limit the server cannot run with
// stops it at start with one line naming the flag or variable.
func TestServeRefusesBadLimitsInOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--rate-limit", "-1"}, "", "--rate-limit"},
		{[]string{"--rate-limit", "fast"}, "", "--rate-limit"},
		{nil, "PERSEUS_RATE_BURST=5", "--rate-burst"},
		{[]string{"--quota-bytes", "lots"}, "", "--quota-bytes"},
		{nil, "PERSEUS_QUOTA_BYTES=5XB", "PERSEUS_QUOTA_BYTES"},
		{[]string{"--quota-files", "-3"}, "", "--quota-files"},
	} {
		data := t.TempDir() + "/data"
		cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, tc.args...)...)
		cmd.Env = os.Environ()
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
			if strings.HasPrefix(l, "perseus: ") {
				lines = append(lines, l)
			}
		}
		if err == nil || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
			t.Errorf("serve %v %s: %v; want one line naming %q, got:\n%s", tc.args, tc.env, err, tc.want, errb.String())
		}
		if _, err := os.Stat(data); err == nil {
			t.Errorf("serve %v %s left %s behind", tc.args, tc.env, data)
		}
	}
}
