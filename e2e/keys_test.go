package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/perseus-go/perseus"
)

// keysCLI runs `perseus keys …` with the given store flags.
func keysCLI(t *testing.T, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"keys"}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("perseus keys %v: %v\n%s", args, err, errb.String())
	}
	return out.String(), errb.String()
}

// TestKeysIsolateTenantsAndRevokeAtOnceOnEveryReplica creates keys for two
// tenants with the CLI, checks that each tenant sees only its own files
// through two replicas sharing PostgreSQL, then revokes a key and checks
// that both replicas refuse it at once.
func TestKeysIsolateTenantsAndRevokeAtOnceOnEveryReplica(t *testing.T) {
	pg := freshSchema(t)
	// Off the embedded default a server starts only with a key to accept.
	acmeKey, _ := keysCLI(t, "create", "--tenant", "acme", "--db", pg)
	acmeKey = strings.TrimSpace(acmeKey)
	a := startServer(t, t.TempDir(), "--db", pg)
	b := startServer(t, t.TempDir(), "--db", pg)
	otherKey, _ := keysCLI(t, "create", "--tenant", "other", "--db", pg)
	otherKey = strings.TrimSpace(otherKey)
	if !strings.HasPrefix(acmeKey, "pk_") || strings.Contains(acmeKey, "\n") {
		t.Fatalf("keys create printed %q; want the key alone", acmeKey)
	}
	ctx := context.Background()
	acmeA, _ := sdk(t, a.URL, acmeKey)
	acmeB, _ := sdk(t, b.URL, acmeKey)
	otherB, _ := sdk(t, b.URL, otherKey)

	path, hash := writeRandom(t, t.TempDir(), "secret.bin", 4096)
	f, err := acmeA.File.UploadFile(ctx, path)
	if err != nil || f.Status != perseus.StatusUploaded {
		t.Fatalf("acme upload: %+v, %v", f, err)
	}
	if got, err := acmeB.File.FindFile(ctx, f.ID); err != nil || got == nil {
		t.Fatalf("acme through replica b: %+v, %v", got, err)
	}
	// The other tenant sees nothing of it, not even that the content exists.
	if got, err := otherB.File.FindFiles(ctx, perseus.FindQuery{IDs: []string{f.ID}, SourceHashes: []string{hash}}); err != nil || len(got) != 0 {
		t.Fatalf("other tenant finds %+v, %v; want nothing", got, err)
	}
	res, err := otherB.File.CreateFile(ctx, "mine.bin", hash)
	if err != nil || res.File.ID == f.ID || res.File.Status != perseus.StatusPending {
		t.Fatalf("other tenant's create of the same content = %+v, %v; want a new pending file", res, err)
	}
	if err := otherB.File.DeleteFile(ctx, f.ID); !errors.Is(err, perseus.ErrNotFound) {
		t.Fatalf("other tenant deleting acme's file: %v, want not found", err)
	}

	list, _ := keysCLI(t, "list", "--db", pg)
	if strings.Contains(list, acmeKey) || !strings.Contains(list, "acme") {
		t.Fatalf("keys list shows keys in clear or misses tenants:\n%s", list)
	}
	var acmeID string
	for _, line := range strings.Split(list, "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[1] == "acme" {
			acmeID = fields[0]
		}
	}
	keysCLI(t, "revoke", acmeID, "--db", pg)
	for name, c := range map[string]*perseus.Client{"a": acmeA, "b": acmeB} {
		if _, err := c.File.FindFile(ctx, f.ID); !errors.Is(err, perseus.ErrUnauthorized) {
			t.Fatalf("revoked key on replica %s: %v, want 401", name, err)
		}
	}
	if _, err := otherB.File.FindFiles(ctx, perseus.FindQuery{IDs: []string{"x"}}); err != nil {
		t.Fatalf("the other tenant's key stopped working too: %v", err)
	}
}

// TestKeysOnEmbeddedDefault creates a key against --data while the server runs.
func TestKeysOnEmbeddedDefault(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data)
	key, _ := keysCLI(t, "create", "--tenant", "team-1", "--data", data)
	c, _ := sdk(t, srv.URL, strings.TrimSpace(key))
	if _, err := c.File.FindFiles(context.Background(), perseus.FindQuery{IDs: []string{"x"}}); err != nil {
		t.Fatalf("new key against the running embedded server: %v", err)
	}
	// The generated dev key still works beside it.
	dev, _ := sdk(t, srv.URL, srv.Key)
	if _, err := dev.File.FindFiles(context.Background(), perseus.FindQuery{IDs: []string{"x"}}); err != nil {
		t.Fatalf("dev key: %v", err)
	}
	if _, err := os.Stat(data + "/dev-api-key"); err != nil {
		t.Fatal(err)
	}
}
