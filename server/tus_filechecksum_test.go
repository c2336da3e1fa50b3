package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"path"
	"strings"
	"testing"

	"github.com/minio/crc64nvme"
	"github.com/perseus-go/perseus/internal/keys"
)

// fileCRC is a Perseus-File-Checksum of b.
func fileCRC(b []byte) string {
	return "crc64nvme " + base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, crc64nvme.Checksum(b)))
}

// TestTusFileChecksum: Perseus-File-Checksum holds the request that ends
// an upload to the whole file's CRC-64/NVME. A request that does not end
// it is not held to it; a wrong one discards the upload, with no file
// made; a malformed one is refused and loses nothing; a right one ends
// the upload as usual.
func TestTusFileChecksum(t *testing.T) {
	streamBackends(t, func(t *testing.T, e streamEnv) {
		content := randomContent(t, 300000)
		other := append([]byte{content[0] ^ 1}, content[1:]...)
		var l Limits
		if r := e.tusDo("GET", "/api/v0/limits", keyA, nil, nil); r.status != http.StatusOK || json.Unmarshal(r.body, &l) != nil || l.FileChecksum != "crc64nvme" {
			t.Fatalf("limits: %d %s", r.status, r.body)
		}

		loc, _ := e.tusCreate(keyA, len(content), tusMeta("filename", "c.bin"))
		if r := e.tusPatch(keyA, loc, 0, content[:100000], fileChecksumHeader, fileCRC(other)); r.status != http.StatusNoContent || r.offset() != 100000 || r.h.Get(fileChecksumHeader) != "" {
			t.Fatalf("a request that does not end the upload, with a wrong file checksum: %d %s", r.status, r.body)
		}
		if r := e.tusPatch(keyA, loc, 100000, content[100000:], fileChecksumHeader, "crc64nvme zz"); r.status != http.StatusBadRequest || !strings.Contains(r.message(), "checksum_unsupported") {
			t.Fatalf("a malformed file checksum: %d %s", r.status, r.body)
		}
		if r := e.tusDo("HEAD", loc, keyA, nil, nil); r.offset() != 100000 {
			t.Fatalf("after a malformed file checksum the offset is %d, want 100000", r.offset())
		}
		r := e.tusPatch(keyA, loc, 100000, content[100000:], fileChecksumHeader, fileCRC(other))
		if r.status != 460 || !strings.Contains(r.message(), "file_checksum_mismatch") || !strings.Contains(r.message(), "upload the file again") {
			t.Fatalf("a wrong file checksum: %d %s", r.status, r.body)
		}
		if r := e.tusDo("HEAD", loc, keyA, nil, nil); r.status != http.StatusNotFound {
			t.Fatalf("after a wrong file checksum HEAD answers %d, want 404: the upload is discarded", r.status)
		}
		if got := contentKeys(e.keys()); len(got) != 0 {
			t.Fatalf("a wrong file checksum left content %v", got)
		}
		if fs := e.find(keyA, []string{path.Base(loc)}, nil); len(fs) != 0 {
			t.Fatalf("a wrong file checksum left files: %+v", fs)
		}

		loc, _ = e.tusCreate(keyA, len(content), tusMeta("filename", "c.bin"))
		if r := e.tusPatch(keyA, loc, 0, content[:299000]); r.status != http.StatusNoContent {
			t.Fatalf("first bytes: %d %s", r.status, r.body)
		}
		r = e.tusPatch(keyA, loc, 299000, content[299000:], fileChecksumHeader, fileCRC(content))
		if r.status != http.StatusNoContent || r.h.Get("Perseus-File-Status") != "uploaded" || r.h.Get(fileChecksumHeader) != fileCRC(content) {
			t.Fatalf("a right file checksum: %d %s, echoed %q", r.status, r.body, r.h.Get(fileChecksumHeader))
		}
		if got := e.contentOf(keyA, r.h.Get("Perseus-File-Id")); string(got) != string(content) {
			t.Fatalf("stored %d bytes, want the %d sent", len(got), len(content))
		}
	})
}

// TestTusFileChecksumOfAnEmptyUpload: tusd finishes an upload of 0 bytes
// at its creation, writing no chunk; its declared CRC is held to 0 there.
func TestTusFileChecksumOfAnEmptyUpload(t *testing.T) {
	e := newEnv(t)
	post := func(crc string) tusResp {
		return e.tusDo("POST", tusBase, keyA, nil, map[string]string{"Upload-Length": "0",
			"Upload-Metadata": tusMeta("filename", "empty.txt"), fileChecksumHeader: crc})
	}
	if r := post(fileCRC([]byte("not empty"))); r.status != 460 || !strings.Contains(r.message(), "file_checksum_mismatch") {
		t.Fatalf("an empty upload with a wrong file checksum: %d %s", r.status, r.body)
	}
	if fs := e.find(keyA, nil, []string{hashOf(nil)}); len(fs) != 0 {
		t.Fatalf("a wrong file checksum left files: %+v", fs)
	}
	r := post(fileCRC(nil))
	if r.status != http.StatusCreated || r.h.Get(fileChecksumHeader) != fileCRC(nil) {
		t.Fatalf("an empty upload with the right file checksum: %d %s, echoed %q", r.status, r.body, r.h.Get(fileChecksumHeader))
	}
}

// TestTusFileChecksumOfAnUploadBegunBefore: an upload whose state keeps no
// CRC (begun by a server before this one) cannot be held to a file
// checksum: 409, and its bytes stay; without the header it ends as usual.
func TestTusFileChecksumOfAnUploadBegunBefore(t *testing.T) {
	e := newEnv(t)
	content := randomContent(t, 5000)
	loc, _ := e.tusCreate(keyA, len(content), tusMeta("filename", "old.bin"))
	if r := e.tusPatch(keyA, loc, 0, content[:1000]); r.status != http.StatusNoContent {
		t.Fatalf("first bytes: %d %s", r.status, r.body)
	}
	// Rewrite its state as an older server wrote it: no crc64.
	ctx := context.Background()
	id := keys.Resumable(tenantA, path.Base(loc))
	a := e.blobs.app()
	n, raw, err := a.Appended(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil || st["crc64"] == nil {
		t.Fatalf("state %s: %v; want a crc64", raw, err)
	}
	delete(st, "crc64")
	old, _ := json.Marshal(st)
	w, err := a.Append(ctx, id, n, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, old); err != nil {
		t.Fatal(err)
	}

	if r := e.tusPatch(keyA, loc, 1000, content[1000:], fileChecksumHeader, fileCRC(content)); r.status != http.StatusConflict || !strings.Contains(r.message(), "file_checksum_unavailable") {
		t.Fatalf("a file checksum for an upload without a CRC: %d %s", r.status, r.body)
	}
	if r := e.tusDo("HEAD", loc, keyA, nil, nil); r.offset() != 1000 {
		t.Fatalf("offset %d after the refusal, want 1000", r.offset())
	}
	if r := e.tusPatch(keyA, loc, 1000, content[1000:]); r.status != http.StatusNoContent || r.h.Get("Perseus-File-Status") != "uploaded" {
		t.Fatalf("the rest without a file checksum: %d %s", r.status, r.body)
	}
}
