package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/internal/testenv"
)

// The files of deploy/ that these tests hold to the binary.
const (
	unitFile    = "../deploy/perseus.service"
	envExample  = "../deploy/perseus.env.example"
	installedAs = "/usr/local/bin/perseus"
)

// TestDeployUnit checks deploy/perseus.service and deploy/perseus.env.example
// without running them: every flag and variable they set is one `perseus
// serve` has, the unit keeps its sandbox and its production choices, and
// systemd-analyze verify accepts it.
func TestDeployUnit(t *testing.T) {
	d := loadDeploy(t)
	if missing := d.unknown(t); len(missing) > 0 {
		t.Errorf("deploy/ uses what `perseus serve --help` does not list: %s", strings.Join(missing, ", "))
	}
	for key, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"Restart": "on-failure", "EnvironmentFile": "/etc/perseus/perseus.env",
		"ExecReload": "/bin/kill -HUP $MAINPID",
	} {
		if got := d.last(key); got != want {
			t.Errorf("%s=%q in the unit, want %q", key, got, want)
		}
	}
	for _, key := range []string{"RestrictAddressFamilies", "LimitNOFILE", "StateDirectory"} {
		if d.last(key) == "" {
			t.Errorf("the unit sets no %s", key)
		}
	}
	if d.last("User") == "" && d.last("DynamicUser") != "yes" {
		t.Error("the unit runs as root: set User= or DynamicUser=yes")
	}
	if got, want := d.flag("--data"), "/var/lib/"+d.last("StateDirectory"); got != want {
		t.Errorf("--data %q, want the StateDirectory %q: the sandbox lets the server write there only", got, want)
	}
	if d.has("--api-key") || d.env["PERSEUS_API_KEYS"] != "" || d.envFileVars["PERSEUS_API_KEYS"] {
		t.Error("production keys come from `perseus keys create`, not --api-key / PERSEUS_API_KEYS")
	}
	if m := d.flag("--metrics-addr"); m != "" {
		if host, _, err := net.SplitHostPort(m); err != nil || !net.ParseIP(host).IsLoopback() {
			t.Errorf("--metrics-addr %q: keep /metrics and pprof on loopback", m)
		}
	}
	if s := d.flag("--shutdown-timeout"); s != "" {
		shutdown, err1 := time.ParseDuration(s)
		stop, err2 := time.ParseDuration(d.last("TimeoutStopSec"))
		if err1 != nil || err2 != nil || stop <= shutdown {
			t.Errorf("TimeoutStopSec=%q must be a duration above --shutdown-timeout %q, or systemd kills a server that is still shutting down",
				d.last("TimeoutStopSec"), s)
		}
	}

	t.Run("systemd-analyze", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze is not installed: the unit's syntax is not verified")
		}
		// An image of the machine the unit is installed on: the unit, the
		// binary it starts, kill for ExecReload, and systemd's own units.
		root := t.TempDir()
		for _, c := range [][2]string{
			{unitFile, "etc/systemd/system/perseus.service"},
			{binary, strings.TrimPrefix(installedAs, "/")},
			{"/bin/kill", "bin/kill"},
		} {
			copyFile(t, c[0], filepath.Join(root, c[1]))
		}
		if err := os.MkdirAll(filepath.Join(root, "usr/lib/systemd"), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
			t.Fatalf("copying systemd's units: %v\n%s", err, out)
		}
		out, err := exec.Command(sa, "verify", "--root="+root, "--man=no", "perseus.service").CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 { // warnings (an unknown key) exit 0
			t.Fatalf("systemd-analyze verify deploy/perseus.service: %v\n%s", err, out)
		}
		if out, err := exec.Command(sa, "security", "--offline=yes", "--root="+root, "perseus.service").CombinedOutput(); err == nil {
			if i := bytes.Index(out, []byte("Overall exposure level")); i >= 0 {
				t.Logf("systemd-analyze security: %s", bytes.TrimSpace(out[i:]))
			}
		}
	})
}

// TestDeployUnitServes starts the built binary exactly as deploy/perseus.service
// would, its ExecStart with its Environment= and EnvironmentFile=
// (deploy/perseus.env.example with the test's PostgreSQL, S3 bucket, S3
// credentials and public URL filled in), against the real PostgreSQL and S3
// server of the test environment. Paths are taken under a temporary root and
// addresses on free loopback ports; every other flag and value is the unit's.
// It creates an API key as the README says, waits for /readyz, uploads and
// downloads a file larger than one part, checks the metrics listener and
// CORS, reloads the TLS certificate with ExecReload's signal and stops the
// server within TimeoutStopSec.
func TestDeployUnitServes(t *testing.T) {
	pg := freshSchema(t)
	s3url := testenv.S3URL(t, "deploy")
	d := loadDeploy(t)
	if missing := d.unknown(t); len(missing) > 0 {
		t.Fatalf("cannot start the unit's command: this binary has no %s", strings.Join(missing, ", "))
	}
	root := t.TempDir()
	under := func(p string) string { return filepath.Join(root, p) }

	// ExecStart, with its paths under root and its addresses on free ports.
	if len(d.exec) < 2 || d.exec[0] != installedAs || d.exec[1] != "serve" {
		t.Fatalf("ExecStart=%q: want %s serve …", d.exec, installedAs)
	}
	args := slices.Clone(d.exec[1:])
	addrs := map[string]string{} // flag → address it listens on here
	for i := 1; i < len(args); i++ {
		name, value, inline := strings.Cut(args[i], "=")
		if !strings.HasPrefix(name, "--") {
			continue
		}
		if !inline {
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "--") {
				continue // a boolean flag
			}
			i++
			value = args[i]
		}
		switch {
		case strings.HasSuffix(name, "addr"):
			value = freeAddr(t)
			addrs[name] = value
		case strings.HasPrefix(value, "/"):
			value = under(value)
		}
		if inline {
			args[i] = name + "=" + value
		} else {
			args[i] = value
		}
	}
	addr := addrs["--addr"]
	if addr == "" {
		t.Fatal("ExecStart has no --addr")
	}

	// What systemd and the administrator provide before the first start.
	if err := os.MkdirAll(under(d.flag("--data")), 0o700); err != nil { // StateDirectory=
		t.Fatal(err)
	}
	scheme, pool := "http", x509.NewCertPool()
	var ca *testCA
	if d.has("--tls-cert") {
		scheme = "https"
		ca = newTestCA(t)
		pool.AddCert(ca.cert)
		ca.issue(t, under(d.flag("--tls-cert")), under(d.flag("--tls-key")))
	}
	if f := d.flag("--signing-key-file"); f != "" {
		writeFile(t, under(f), fmt.Sprintf("new=%s\nold=%s\n", randomHex(32), randomHex(32)), 0o640)
	}
	public := scheme + "://" + addr
	envFile := d.writeEnvFile(t, under(d.last("EnvironmentFile")), map[string]string{
		"PERSEUS_DB":            pg,
		"PERSEUS_BLOBS":         s3url,
		"AWS_ACCESS_KEY_ID":     testenv.Require(t, "AWS_ACCESS_KEY_ID"),
		"AWS_SECRET_ACCESS_KEY": testenv.Require(t, "AWS_SECRET_ACCESS_KEY"),
		"AWS_REGION":            s3Region(t, s3url),
		"PERSEUS_PUBLIC_URL":    public,
	})

	// The service's environment: systemd's own, then Environment=, then the
	// EnvironmentFile=, which wins.
	env := map[string]string{"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": under("/nonexistent"),
		"LANG": "C.UTF-8", "STATE_DIRECTORY": under(d.flag("--data"))}
	for k, v := range d.env {
		env[k] = v
	}
	for k, v := range parseEnvFile(t, envFile) {
		env[k] = v
	}
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}

	// README: production keys are made with `perseus keys create`, against the same database.
	keyCmd := exec.Command(binary, "keys", "create", "--tenant", "deploy")
	keyCmd.Env, keyCmd.Dir = environ, root
	out, err := keyCmd.Output()
	if err != nil {
		t.Fatalf("perseus keys create with the unit's environment: %v\n%s", err, stderrOf(err))
	}
	apiKey := strings.TrimSpace(string(out))

	cmd := exec.Command(binary, args...)
	cmd.Env, cmd.Dir = environ, root
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	t.Logf("starting: perseus %s", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	t.Cleanup(func() {
		if !exited {
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", log.String())
		}
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	alive := func() {
		t.Helper()
		select {
		case err := <-done:
			exited = true
			t.Fatalf("the server exited: %v", err)
		default:
		}
	}
	waitStatus := func(url string, want int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			alive()
			resp, err := client.Get(url)
			last := fmt.Sprint(err)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == want {
					return
				}
				last = resp.Status
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %s after 30s, want %d", url, last, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitStatus(public+"/readyz", http.StatusOK)

	if m := addrs["--metrics-addr"]; m != "" {
		waitStatus("http://"+m+"/metrics", http.StatusOK)
		waitStatus("http://"+m+"/debug/pprof/", http.StatusOK)
		resp, err := client.Get(public + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("GET /metrics on the public listener: %s; want it only on --metrics-addr", resp.Status)
		}
	}

	if origins := env["PERSEUS_CORS_ORIGINS"]; origins != "" {
		origin := strings.TrimSpace(strings.Split(origins, ",")[0])
		req, _ := http.NewRequest(http.MethodOptions, public+"/api/v0/file", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("CORS preflight from %s: %d, Access-Control-Allow-Origin %q", origin, resp.StatusCode, got)
		}
	}

	// One upload larger than a part (16 MiB): multipart, straight to S3,
	// verified by the server, downloaded and checked again.
	ctx := context.Background()
	c, err := perseus.NewClient(perseus.WithHost(public), perseus.WithAPIKey(apiKey), perseus.WithHTTPClient(&http.Client{Transport: client.Transport}))
	if err != nil {
		t.Fatal(err)
	}
	const size = 20<<20 + 5
	path, hash := writeRandom(t, t.TempDir(), "deploy.bin", size)
	f, err := c.File.UploadFile(ctx, path)
	if err != nil {
		t.Fatalf("upload through the unit's server: %v", err)
	}
	f, err = c.File.WaitForFileUpload(ctx, f.ID, perseus.WithTimeout(60*time.Second))
	if err != nil || f.Status != perseus.StatusUploaded || f.Size != size || f.SourceHash != hash {
		t.Fatalf("after the upload: %+v, %v", f, err)
	}
	sum := sha256.New()
	if n, err := c.File.DownloadFile(ctx, f.ID, sum); err != nil || n != size || hex.EncodeToString(sum.Sum(nil)) != hash {
		t.Fatalf("download: %d bytes, %v", n, err)
	}

	// ExecReload: a renewed certificate is served after the signal, by the same process.
	if reload := d.last("ExecReload"); reload != "" {
		sig := map[string]syscall.Signal{"/bin/kill -HUP $MAINPID": syscall.SIGHUP}[reload]
		if sig == 0 {
			t.Fatalf("ExecReload=%s: the test knows /bin/kill -HUP $MAINPID only", reload)
		}
		var serial *big.Int
		if ca != nil {
			serial = ca.issue(t, under(d.flag("--tls-cert")), under(d.flag("--tls-key")))
		}
		cmd.Process.Signal(sig)
		deadline := time.Now().Add(10 * time.Second)
		for {
			alive()
			resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}).Get(public + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && (serial == nil || resp.TLS.PeerCertificates[0].SerialNumber.Cmp(serial) == 0) {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("10s after ExecReload's signal the server does not serve the renewed certificate (last: %v)", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// systemctl stop: SIGTERM, then SIGKILL after TimeoutStopSec (default 90s).
	stopAfter := 90 * time.Second
	if s := d.last("TimeoutStopSec"); s != "" {
		if stopAfter, err = time.ParseDuration(s); err != nil {
			t.Fatalf("TimeoutStopSec=%s: %v", s, err)
		}
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Fatalf("the server exited with %v on SIGTERM", err)
		}
		t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(stopAfter):
		t.Fatalf("the server did not stop within TimeoutStopSec=%v of SIGTERM", stopAfter)
	}
}

// deployConfig is what deploy/perseus.service and deploy/perseus.env.example say.
type deployConfig struct {
	service     map[string][]string // [Service] key → its values, in order
	exec        []string            // ExecStart, split into words
	env         map[string]string   // the unit's Environment= assignments
	envExample  string              // the text of perseus.env.example
	envFileVars map[string]bool     // every variable the example names, set or commented out
}

func loadDeploy(t *testing.T) *deployConfig {
	t.Helper()
	text, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(envExample)
	if err != nil {
		t.Fatal(err)
	}
	d := &deployConfig{service: map[string][]string{}, env: map[string]string{}, envExample: string(example), envFileVars: map[string]bool{}}
	section := ""
	// systemd joins a line ending in a backslash with the next one.
	for _, line := range strings.Split(strings.ReplaceAll(string(text), "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not key=value: %q", unitFile, line)
			}
			d.service[strings.TrimSpace(k)] = append(d.service[strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	if d.exec = splitWords(t, d.last("ExecStart")); len(d.exec) == 0 {
		t.Fatalf("%s has no ExecStart", unitFile)
	}
	for _, line := range d.service["Environment"] {
		for _, kv := range splitWords(t, line) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("Environment=%s: %q is no assignment", line, kv)
			}
			d.env[k] = v
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^[#;]?\s*([A-Z][A-Z0-9_]*)=`).FindAllStringSubmatch(d.envExample, -1) {
		d.envFileVars[m[1]] = true
	}
	return d
}

// last is the unit's last value for key (the one systemd uses), or "".
func (d *deployConfig) last(key string) string {
	if v := d.service[key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// flag is the value of an ExecStart flag, or "".
func (d *deployConfig) flag(name string) string {
	for i, a := range d.exec {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(d.exec) {
			return d.exec[i+1]
		}
	}
	return ""
}

func (d *deployConfig) has(name string) bool {
	return slices.ContainsFunc(d.exec, func(a string) bool { return a == name || strings.HasPrefix(a, name+"=") })
}

// unknown lists the flags of ExecStart and the PERSEUS_ variables of the
// unit and of the example environment file that `perseus serve --help` does
// not list: a flag it lacks stops it at start, and a variable it lacks
// would be ignored without a word.
func (d *deployConfig) unknown(t *testing.T) []string {
	t.Helper()
	help, err := exec.Command(binary, "serve", "--help").Output()
	if err != nil {
		t.Fatalf("perseus serve --help: %v", err)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?(--[a-z0-9-]+)`).FindAllSubmatch(help, -1) {
		flags[string(m[1])] = true
	}
	vars := map[string]bool{}
	for _, m := range regexp.MustCompile(`\[(PERSEUS_[A-Z0-9_]+)`).FindAllSubmatch(help, -1) {
		vars[string(m[1])] = true
	}
	var missing []string
	for _, a := range d.exec[1:] {
		if name, _, _ := strings.Cut(a, "="); strings.HasPrefix(name, "--") && !flags[name] && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	}
	names := slices.Collect(func(yield func(string) bool) {
		for k := range d.env {
			yield(k)
		}
		for k := range d.envFileVars {
			yield(k)
		}
	})
	slices.Sort(names)
	for _, k := range slices.Compact(names) {
		if strings.HasPrefix(k, "PERSEUS_") && !vars[k] {
			missing = append(missing, "$"+k)
		}
	}
	return missing
}

// writeEnvFile writes the example environment file to path with the values
// of set in place of its own, and returns path. Each variable of set must be
// assigned in the example: the example names what a site fills in.
func (d *deployConfig) writeEnvFile(t *testing.T, path string, set map[string]string) string {
	t.Helper()
	lines := strings.Split(d.envExample, "\n")
	done := map[string]bool{}
	for i, line := range lines {
		k, _, ok := strings.Cut(line, "=")
		if _, want := set[k]; ok && want {
			lines[i] = k + "=" + set[k]
			done[k] = true
		}
	}
	for k := range set {
		if !done[k] {
			t.Fatalf("%s does not set %s", envExample, k)
		}
	}
	writeFile(t, path, strings.Join(lines, "\n"), 0o600)
	return path
}

// parseEnvFile reads a file as systemd's EnvironmentFile= does: KEY=VALUE
// lines, # and ; comments, the value's quotes removed.
func parseEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not KEY=VALUE: %q", path, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env[strings.TrimSpace(k)] = v
	}
	return env
}

// splitWords splits a unit's command line or assignment list into words as
// systemd does for what this unit uses: blanks separate words, and quotes
// group them. Variables and specifiers are refused: the test would have to
// expand them as systemd does.
func splitWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case quote != 0 && ch == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(ch)
		case ch == '"' || ch == '\'':
			quote, in = ch, true
		case ch == ' ' || ch == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	for _, w := range words {
		if strings.ContainsAny(w, "$%\\") {
			t.Fatalf("%q: the test does not expand systemd's variables or specifiers; use literal values", w)
		}
	}
	return words
}

// s3Region is AWS_REGION if set, else the region= of the S3 URL.
func s3Region(t *testing.T, s3url string) string {
	if r := os.Getenv("AWS_REGION"); r != "" {
		return r
	}
	u, err := url.Parse(s3url)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("region")
}

// testCA issues TLS certificates for 127.0.0.1.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "perseus test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// issue writes a new certificate and key for 127.0.0.1 in PEM to certPath
// and keyPath, and returns its serial number.
func (ca *testCA) issue(t *testing.T, certPath, keyPath string) *big.Int {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Key first: a reload between the two writes then finds a new key with the old certificate, and keeps the old pair.
	writeFile(t, keyPath, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})), 0o640)
	writeFile(t, certPath, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
	return serial
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
