//go:build linux

package server

import (
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Starting an upload and sending a part reserve disk for the bytes sent,
// not for the whole declared size.
func TestMultipartOnLocalStoreReservesNoDiskUpFront(t *testing.T) {
	e := newEnv(t)
	m := newMP(t, e.url)
	const size, partSize = 256 << 20, 64 << 20
	c := e.pendingFile(randomBytes(10))
	up, _ := m.start(c.Rec.ID, size, partSize)
	u := m.urls(c.Rec.ID, up.UploadID, partRef{PartNumber: 1, SHA256: hashOf(randomBytes(1))})
	if status, body := m.put(u[0], nil); status != http.StatusBadRequest {
		t.Fatalf("PUT of an empty part: %d %s, want 400", status, body)
	}
	fi, err := os.Stat(filepath.Join(e.blobDir, "assemblies", partsDir(tenantA, c.Rec.ID)+up.UploadID, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if used := fi.Sys().(*syscall.Stat_t).Blocks * 512; used > 1<<20 {
		t.Fatalf("an upload of %d bytes that received none takes %d bytes of disk", size, used)
	}
}
