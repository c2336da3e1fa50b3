package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perseus-go/perseus/internal/testenv"
)

// TestServeRefusesBadOpsFlagsInOneLineBeforeAnythingIsMade: every bad value
// of the TLS, CORS, logging, metrics, size and shutdown flags (or of their
// variables) stops perseus serve at once with exit status 2 and one line
// naming the flag, before the data directory is even made.
func TestServeRefusesBadOpsFlagsInOneLineBeforeAnythingIsMade(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.NewCA(t)
	cert, key := ca.WritePair(t, dir, "good", 2)
	otherCert, _ := ca.WritePair(t, dir, "other", 3)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate\n"), 0o600)
	missing := filepath.Join(dir, "missing.pem")

	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // in the one line
	}{
		{"unreadable cert", []string{"--tls-cert", missing, "--tls-key", key}, nil, "--tls-cert " + missing},
		{"unreadable key", []string{"--tls-cert", cert, "--tls-key", missing}, nil, "no such file"},
		{"cert that is no PEM", []string{"--tls-cert", garbage, "--tls-key", key}, nil, "--tls-cert"},
		{"key of another cert", []string{"--tls-cert", otherCert, "--tls-key", key}, nil, "does not match"},
		{"cert without its key", []string{"--tls-cert", cert}, nil, "--tls-cert and --tls-key go together"},
		{"key without its cert", []string{"--tls-key", key}, nil, "--tls-cert and --tls-key go together"},
		{"key half from the environment", nil, map[string]string{"PERSEUS_TLS_KEY": key}, "--tls-cert and --tls-key go together"},
		{"origin with a path", []string{"--cors-origin", "https://app.example.com/ui"}, nil, "--cors-origin"},
		{"origin with a slash", []string{"--cors-origin", "https://app.example.com/"}, nil, "no path"},
		{"origin of another scheme", []string{"--cors-origin", "ftp://app.example.com"}, nil, "http or https"},
		{"origin without a scheme", []string{"--cors-origin", "app.example.com"}, nil, "--cors-origin"},
		{"origin that is garbage", []string{"--cors-origin", "::not an origin::"}, nil, "--cors-origin"},
		{"bad origin among good ones", nil, map[string]string{"PERSEUS_CORS_ORIGINS": "https://a.example.com, https://b.example.com/x"}, "b.example.com/x"},
		{"log level", []string{"--log-level", "verbose"}, nil, "--log-level"},
		{"log level from the environment", nil, map[string]string{"PERSEUS_LOG_LEVEL": "loud"}, "--log-level"},
		{"size that is no size", []string{"--max-file-size", "lots"}, nil, "--max-file-size"},
		{"size with an unknown unit", []string{"--max-file-size", "5XB"}, nil, "--max-file-size"},
		{"negative size", []string{"--max-file-size", "-1"}, nil, "--max-file-size"},
		{"zero size", []string{"--max-file-size", "0"}, nil, "--max-file-size"},
		{"size from the environment", nil, map[string]string{"PERSEUS_MAX_FILE_SIZE": "5 parsecs"}, "PERSEUS_MAX_FILE_SIZE"},
		{"negative shutdown timeout", []string{"--shutdown-timeout", "-1s"}, nil, "--shutdown-timeout"},
		{"zero shutdown timeout", []string{"--shutdown-timeout", "0s"}, nil, "--shutdown-timeout"},
		{"shutdown timeout that is no duration", nil, map[string]string{"PERSEUS_SHUTDOWN_TIMEOUT": "soon"}, "PERSEUS_SHUTDOWN_TIMEOUT"},
		{"metrics address without a port", []string{"--metrics-addr", "localhost"}, nil, "--metrics-addr"},
		{"pprof address without a port", []string{"--pprof", "localhost"}, nil, "--pprof"},
		{"parts neither relayed nor direct", []string{"--s3-parts", "sideways"}, nil, "--s3-parts"},
		{"parts direct without S3", []string{"--s3-parts", "direct"}, nil, "only an S3 store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			data := filepath.Join(t.TempDir(), "data")
			var out, errb bytes.Buffer
			code := Main(append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, tc.args...), &out, &errb)
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			if code != 2 || len(lines) != 2 || !strings.HasPrefix(lines[0], "perseus: ") ||
				!strings.Contains(lines[0], tc.want) || !strings.HasPrefix(lines[1], "Run 'perseus serve --help'") {
				t.Errorf("exit %d; want 2 and one line naming %q, then the pointer to --help; got:\n%s", code, tc.want, errb.String())
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the data directory was made (%v) by a start that was refused", err)
			}
		})
	}
}

// TestSizeFlagsTakeUnits: --max-file-size takes plain bytes, SI and IEC units.
func TestSizeFlagsTakeUnits(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "5GiB": 5 << 30, "500MB": 500_000_000,
		"5 TiB": 5 << 40, "64mib": 64 << 20, "1.5KiB": 1536} {
		var n int64
		if err := (sizeValue[int64]{&n}).Set(in); err != nil || n != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	def := int64(5 << 40)
	var again int64
	if err := (sizeValue[int64]{&again}).Set(sizeValue[int64]{&def}.String()); err != nil || again != def {
		t.Errorf("the default %q does not read back: %d, %v", sizeValue[int64]{&def}.String(), again, err)
	}
	var small int
	if err := (sizeValue[int]{&small}).Set("64KiB"); err != nil || small != 64<<10 {
		t.Errorf("an int size flag: %d, %v", small, err)
	}
}
