package perseus

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportingTheSDKBringsOnlyWhatItUses: the SDK and its own tests and
// examples import the standard library, golang.org/x/sync (errgroup),
// github.com/minio/crc64nvme with its CPU detection (klauspost/cpuid: the
// CRC of a file sent unhashed, upload_resumable.go, less than half the
// cost of the standard library's CRC-32C on data out of the CPU's caches) and,
// in tests, go-cmp; nothing of the server (AWS SDK, SQLite, PostgreSQL,
// Prometheus), which would land in every importer's go.sum. Tests that need
// a server in the same process live in ./sdktest; examples run perseus
// serve as a process.
func TestImportingTheSDKBringsOnlyWhatItUses(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(p, "github.com/perseus-go/perseus") && !strings.Contains(p, "/server") && !strings.Contains(p, "/store") && !strings.Contains(p, "/internal/cli"),
			strings.HasPrefix(p, "golang.org/x/sync/"),
			p == "github.com/minio/crc64nvme", p == "github.com/klauspost/cpuid/v2",
			strings.HasPrefix(p, "github.com/google/go-cmp/"):
		case p == "[github.com/perseus-go/perseus.test]":
		default:
			t.Errorf("the SDK or its tests import %s", p)
		}
	}
}
