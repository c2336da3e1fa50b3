package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/perseus-go/perseus/internal/testenv"
)

// TestPythonClientFlowAgainstBothBackends runs testdata/python_client.py (the
// Python SDK's file-service calls, written from the contract with the
// standard library) against the embedded server and, when the services are
// there, against a replica on PostgreSQL and S3 with presigned URLs.
func TestPythonClientFlowAgainstBothBackends(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		testenv.Unavailable(t, "python3 not found: the Python client flow needs it")
	}
	run := func(t *testing.T, srv *serverProc, key string) {
		path, _ := writeRandom(t, t.TempDir(), "doc.bin", 300<<10)
		cmd := exec.Command(python, "testdata/python_client.py", path)
		cmd.Env = append(os.Environ(), "PERSEUS_API_HOST="+srv.URL, "LETTRIA_API_KEY="+key)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python client flow failed: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "delete_file: gone") {
			t.Fatalf("python client flow did not finish:\n%s", out)
		}
	}
	t.Run("embedded", func(t *testing.T) {
		srv := startServer(t, t.TempDir())
		run(t, srv, srv.Key)
	})
	t.Run("postgres+s3", func(t *testing.T) {
		pg := freshSchema(t)
		s3 := testenv.S3URL(t, "py")
		srv := startServer(t, t.TempDir(), "--db", pg, "--blobs", s3, "--api-key", "py-key")
		run(t, srv, "py-key")
	})
}
