package server

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"

	"github.com/perseus-go/perseus/internal/sha256chain"
	"github.com/perseus-go/perseus/store/meta"
)

// chain cuts content into parts of partSize and names each by the whole's
// SHA-256 chaining value before and after it, as a client hashing the file
// once does.
func chain(t *testing.T, content []byte, partSize int) ([][]byte, []partRef) {
	t.Helper()
	h := sha256.New()
	var parts [][]byte
	var refs []partRef
	for off := 0; off < len(content); off += partSize {
		p := content[off:min(off+partSize, len(content))]
		from, err := sha256chain.Value(h)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(p)
		to := hashOf(content)
		if off+len(p) < len(content) {
			to, _ = sha256chain.Value(h)
		}
		parts = append(parts, p)
		refs = append(refs, partRef{PartNumber: len(parts), SHA256: to, From: from})
	}
	return parts, refs
}

func TestChainedPartsCompleteVerified(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	content := randomBytes(10<<10 + 123)
	c := e.pendingFile(content)
	up, _ := m.start(c.Rec.ID, int64(len(content)), 2<<10)
	parts, refs := chain(t, content, 2<<10)

	// A part's bytes must continue the hash from its from to its sha256.
	u := m.urls(c.Rec.ID, up.UploadID, refs[1])[0]
	if status, body := m.put(u, parts[2]); status != http.StatusUnprocessableEntity {
		t.Fatalf("chained part 2 with part 3's bytes: %d %s, want 422", status, body)
	}
	// The URL is signed over from: another from is another URL.
	if status, _ := m.put(partURL{URL: strings.Replace(u.URL, "from="+refs[1].From, "from="+sha256chain.IV, 1)}, parts[1]); status != http.StatusForbidden {
		t.Fatalf("part URL with its from changed: %d, want 403", status)
	}
	for i, u := range m.urls(c.Rec.ID, up.UploadID, refs...) {
		if status, body := m.put(u, parts[i]); status != http.StatusOK {
			t.Fatalf("part %d: %d %s", i+1, status, body)
		}
	}
	// Resuming lists the parts as chained.
	again, status := m.start(c.Rec.ID, int64(len(content)), 2<<10)
	if status != http.StatusOK || len(again.Parts) != len(refs) || again.Parts[0].From != sha256chain.IV || again.Parts[5].SHA256 != c.Rec.SourceHash {
		t.Fatalf("resume: %d %+v; want the %d chained parts", status, again.Parts, len(refs))
	}
	// Complete holds the stored parts to the list, from included.
	wrongFrom := append([]partRef(nil), refs...)
	wrongFrom[3].From = sha256chain.IV
	if _, status, body := m.complete(c.Rec.ID, up.UploadID, wrongFrom); status != http.StatusBadRequest || !strings.Contains(body, "parts 4") {
		t.Fatalf("complete with part 4's from changed: %d %s, want 400 parts_missing naming part 4", status, body)
	}
	f, status, body := m.complete(c.Rec.ID, up.UploadID, refs)
	if status != http.StatusOK || f.Status != string(meta.StatusUploaded) {
		t.Fatalf("complete: %d %s", status, body)
	}
	stored := e.storedFiles()
	if len(stored) != 1 || string(stored["objects/"+contentKey(tenantA, hashOf(content), f.ID)]) != string(content) {
		t.Fatalf("after complete the store holds %d files, want only the content as sent", len(stored))
	}
}

// A chain whose links do not meet proves nothing: the parts hold other
// bytes than the file's, each checked honestly from a value of its own,
// and complete hashes what is there and fails the file.
func TestBrokenChainFailsTheFile(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	content := randomBytes(8 << 10)
	c := e.pendingFile(content)
	up, _ := m.start(c.Rec.ID, int64(len(content)), 2<<10)
	parts, refs := chain(t, content, 2<<10)
	other := append(append(append([]byte{}, content[:2<<10]...), randomBytes(2<<10)...), content[4<<10:]...)
	otherParts, otherRefs := chain(t, other, 2<<10)
	parts[1], refs[1] = otherParts[1], otherRefs[1]
	for i, u := range m.urls(c.Rec.ID, up.UploadID, refs...) {
		if status, body := m.put(u, parts[i]); status != http.StatusOK {
			t.Fatalf("part %d: %d %s", i+1, status, body)
		}
	}
	if _, status, body := m.complete(c.Rec.ID, up.UploadID, refs); status != http.StatusUnprocessableEntity {
		t.Fatalf("complete of a broken chain: %d %s, want 422 hash_mismatch", status, body)
	}
	if rec, _ := e.meta.Get(t.Context(), tenantA, c.Rec.ID); rec.Status != meta.StatusFailed {
		t.Fatalf("after a broken chain the file is %s, want failed", rec.Status)
	}
}

// TestChainedPartsOnlyWhereTheStoreChecksThem: parts sent straight to S3
// (--s3-parts direct) are checked by S3 each on its own, so the server
// neither offers chained parts there nor takes them. (Relayed, the
// default, they are: TestMultipartOnS3RelayedIsVerifiedOnItsWay.)
func TestChainedPartsOnlyWhereTheStoreChecksThem(t *testing.T) {
	e := newS3Env(t, func(c *Config) { c.DirectParts = true })
	m := newMP(t, e.url)
	var l Limits
	m.do("GET", "/api/v0/limits", nil, &l)
	if l.ChainedParts {
		t.Fatal("limits offer chained parts on S3, which checks parts one by one")
	}
	content := randomBytes(10 << 20)
	c := e.pendingFile(content)
	up, _ := m.start(c.Rec.ID, int64(len(content)), 5<<20)
	_, refs := chain(t, content, 5<<20)
	status, body := m.do("POST", "/api/v0/file/"+c.Rec.ID+"/multipart/"+up.UploadID+"/parts", partsRequest{refs}, nil)
	if status != http.StatusBadRequest || !strings.Contains(body, "chainedParts") {
		t.Fatalf("chained part URLs on a store without them: %d %s, want 400 saying so", status, body)
	}
}

// TestChainedPartsOnlyOnBlockBoundaries: a chained part must start and end
// where a SHA-256 block does.
func TestChainedPartsOnlyOnBlockBoundaries(t *testing.T) {
	content := randomBytes(4 << 10)
	_, refs := chain(t, content, 2<<10)
	e2 := newEnv(t, smallParts)
	m2 := newMP(t, e2.url)
	c2 := e2.pendingFile(content)
	up2, _ := m2.start(c2.Rec.ID, int64(len(content)), 2<<10+1)
	status, body := m2.do("POST", "/api/v0/file/"+c2.Rec.ID+"/multipart/"+up2.UploadID+"/parts",
		partsRequest{[]partRef{{PartNumber: 1, SHA256: refs[0].SHA256, From: sha256chain.IV}}}, nil)
	if status != http.StatusBadRequest || !strings.Contains(body, "multiple of 64") {
		t.Fatalf("chained part of a partSize off the block: %d %s, want 400 saying so", status, body)
	}
}
