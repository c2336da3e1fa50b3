package server

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// An uploadId names an upload only if this server made it for this file:
// one made up, whatever plan it claims, is not found, and nothing is sized
// by its plan (a part count of 10^11 once made complete allocate without
// bound); a genuine one whose plan exceeds the limits is refused.
func TestMultipartRefusesUploadIdsItDidNotMake(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	content := randomBytes(10<<10 + 5)
	c := e.pendingFile(content)
	up, _ := m.start(c.Rec.ID, int64(len(content)), 4<<10)
	other := e.pendingFile(randomBytes(99))
	otherUp, _ := m.start(other.Rec.ID, 99, 99)
	base := "/api/v0/file/" + c.Rec.ID + "/multipart/"
	for _, forged := range []string{
		"100000000000-1-0123456789abcdef", // the form uploadIds once had
		"1000000-1-0123456789abcdef",
		"100000000000-1-" + up.UploadID[len(up.UploadID)-48:], // another plan, the same mac
		otherUp.UploadID,                                      // another file's
	} {
		if status, body := m.do("POST", base+forged+"/complete", nil, nil); status != http.StatusNotFound {
			t.Errorf("complete %s: %d %s, want 404", forged, status, body)
		}
		if status, body := m.do("POST", base+forged+"/parts", partsRequest{[]partRef{{PartNumber: 1, SHA256: hashOf(nil)}}}, nil); status != http.StatusNotFound {
			t.Errorf("part URLs of %s: %d %s, want 404", forged, status, body)
		}
		if status, body := m.do("DELETE", base+forged, nil, nil); status != http.StatusNotFound {
			t.Errorf("abort %s: %d %s, want 404", forged, status, body)
		}
	}
	rec, _ := e.srv.cfg.Meta.Get(context.Background(), tenantA, c.Rec.ID)
	huge := signedUploadID(rec, 100000000000, 1<<20) // signed, but beyond every limit
	if status, body := m.do("POST", base+huge+"/complete", nil, nil); status != http.StatusRequestEntityTooLarge {
		t.Errorf("complete of a plan beyond the limits: %d %s, want 413", status, body)
	}
	if status, body := m.do("POST", base+huge+"/parts", partsRequest{[]partRef{{PartNumber: 1, SHA256: hashOf(nil)}}}, nil); status != http.StatusRequestEntityTooLarge {
		t.Errorf("part URLs of a plan beyond the limits: %d %s, want 413", status, body)
	}
}

// Starting an upload and asking for part URLs keep the pending record from
// looking abandoned to the sweeper (updated_at older than PendingTTL).
func TestMultipartTouchesItsRecord(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	content := randomBytes(10<<10 + 5)
	_, refs := split(content, 4<<10)
	c := e.pendingFile(content)
	updated := func() time.Time {
		f, err := e.srv.cfg.Meta.Get(context.Background(), tenantA, c.Rec.ID)
		if err != nil || f.Status != meta.StatusPending {
			t.Fatalf("record: %+v, %v", f, err)
		}
		return f.UpdatedAt
	}
	before := updated()
	time.Sleep(20 * time.Millisecond)
	up, _ := m.start(c.Rec.ID, int64(len(content)), 4<<10)
	started := updated()
	if !started.After(before) {
		t.Fatalf("multipart start left updated_at at %v", started)
	}
	time.Sleep(20 * time.Millisecond)
	m.urls(c.Rec.ID, up.UploadID, refs[0])
	if asked := updated(); !asked.After(started) {
		t.Fatalf("part URLs left updated_at at %v", asked)
	}
}

// While complete is between hashing the assembly and committing it, an
// abort waits for its verdict and a new part is refused: the bytes
// committed are the ones verified. (Abort once removed the assembly under
// complete, and a part PUT after it made a new data file, which complete
// could rename into place.)
func TestMultipartOnLocalStoreAbortAndPartsWaitForComplete(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	content := randomBytes(12 << 10)
	c := e.pendingFile(content)
	up, refs := sendAll(t, m, c.Rec.ID, content, 4<<10)
	parts, _ := split(content, 4<<10)
	url1 := m.urls(c.Rec.ID, up, refs[0])[0]
	inHash, release := make(chan struct{}), make(chan struct{})
	e.blobs.hashed = func() { close(inHash); <-release }
	completed := make(chan int)
	go func() { _, status, _ := m.complete(c.Rec.ID, up, refs); completed <- status }()
	<-inHash
	aborted := make(chan int)
	go func() {
		status, _ := m.do("DELETE", "/api/v0/file/"+c.Rec.ID+"/multipart/"+up, nil, nil)
		aborted <- status
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case status := <-aborted:
		close(release)
		t.Fatalf("abort during complete answered %d at once, want it to wait for the verdict", status)
	default:
	}
	if status, body := m.put(url1, parts[0]); status != http.StatusConflict {
		t.Errorf("PUT of a part during complete: %d %s, want 409", status, body)
	}
	close(release)
	if status := <-completed; status != http.StatusOK {
		t.Fatalf("complete: %d, want 200", status)
	}
	if status := <-aborted; status != http.StatusNoContent && status != http.StatusNotFound {
		t.Errorf("abort after complete: %d", status)
	}
	got, err := os.ReadFile(filepath.Join(e.blobDir, "objects", contentKey(tenantA, hashOf(content), c.Rec.ID)))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the content is not the verified bytes (%v)", err)
	}
}
