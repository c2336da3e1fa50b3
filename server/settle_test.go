package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// sweepSoon makes every pending record abandoned a millisecond after its
// last touch, and every unreferenced object an orphan at once.
func sweepSoon(c *Config) { c.PendingTTL, c.OrphanGrace = time.Millisecond, time.Nanosecond }

// TestUploadFinishingAfterTheSweeperDeletedItsRecordIsNotAcknowledged: the
// sweeper deletes an abandoned record while its bytes are still arriving.
// The upload must not be acknowledged, nor keep the bytes it commits after
// the sweeper removed the record's content.
func TestUploadFinishingAfterTheSweeperDeletedItsRecordIsNotAcknowledged(t *testing.T) {
	e := newEnv(t, sweepSoon)
	content := []byte("bytes that arrive after their record was swept")
	c := e.pendingFile(content)

	body, send := io.Pipe()
	t.Cleanup(func() { send.Close() })
	req, err := http.NewRequest("PUT", c.UploadURL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(content))
	type answer struct {
		res *http.Response
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		answered <- answer{res, err}
	}()
	send.Write(content[:8])
	// The server has found the record pending and is writing the bytes.
	for deadline := time.Now().Add(5 * time.Second); !e.writing(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server never began to store the upload")
		}
	}
	time.Sleep(5 * time.Millisecond) // older than PendingTTL
	if rep, err := e.srv.core.Sweep(context.Background()); err != nil || rep.AbandonedRecords != 1 {
		t.Fatalf("Sweep during the upload = %+v, %v; want the record swept", rep, err)
	}
	send.Write(content[8:])
	send.Close()

	a := <-answered
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.res.Body.Close()
	var got apiResp
	if err := json.NewDecoder(a.res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if a.res.StatusCode != http.StatusGone || got.Code != "file_deleted" || !strings.Contains(got.Message, "deleted") {
		t.Fatalf("PUT finishing after the sweep: %d %s %q; want 410 file_deleted", a.res.StatusCode, got.Code, got.Message)
	}
	e.wantNothingStored()
	if r := e.call("GET", "/api/v0/file/"+c.Rec.ID, keyA, nil); r.status != http.StatusNotFound {
		t.Fatalf("GET of the swept file: %d %s", r.status, r.body)
	}
	// Creating the file again makes a new record, which uploads.
	again := e.pendingFile(content)
	if again.Rec.ID == c.Rec.ID {
		t.Fatal("create after the sweep returned the swept record")
	}
	if up := e.put(again.UploadURL, content); up.status != http.StatusOK || up.Status != "uploaded" {
		t.Fatalf("PUT after create = %d %s", up.status, up.body)
	}
}

// writing reports whether the local store has a write in progress.
func (e *testEnv) writing() bool {
	for name := range e.storedFiles() {
		if strings.HasPrefix(name, "tmp/") {
			return true
		}
	}
	return false
}

// TestMultipartCompletingAfterTheSweeperDeletedItsRecordIsNotAcknowledged:
// the sweeper deletes the record while complete is hashing the parts; the
// complete commits the content, finds the record gone and answers 410,
// keeping nothing, even before the sweeper cleans up after it.
func TestMultipartCompletingAfterTheSweeperDeletedItsRecordIsNotAcknowledged(t *testing.T) {
	e := newEnv(t, smallParts, sweepSoon)
	m := newMP(t, e.url)
	content := randomBytes(12 << 10)
	c := e.pendingFile(content)
	upload, refs := sendAll(t, m, c.Rec.ID, content, 4<<10)
	time.Sleep(5 * time.Millisecond) // older than PendingTTL
	swept := make(chan error, 1)
	var once sync.Once
	e.blobs.hashed = func() {
		// The sweeper's atomic step only: what settles the upload must
		// clean up by itself.
		once.Do(func() {
			_, err := e.meta.DeleteStale(context.Background(), tenantA, c.Rec.ID, meta.StatusPending, time.Now())
			swept <- err
		})
	}
	_, status, body := m.complete(c.Rec.ID, upload, refs)
	select {
	case err := <-swept:
		if err != nil {
			t.Fatalf("DeleteStale during complete: %v", err)
		}
	default:
		t.Fatal("complete never hashed the parts")
	}
	if status != http.StatusGone || !strings.Contains(body, "file_deleted") {
		t.Fatalf("complete after the record was swept: %d %s; want 410 file_deleted", status, body)
	}
	e.wantNothingStored()
}

// TestContentOfASweptRecordIsAnOrphan: bytes an upload committed for a
// record the sweeper deleted, and then could not remove (it crashed, or its
// delete failed), belong to no record: the next sweep removes them.
func TestContentOfASweptRecordIsAnOrphan(t *testing.T) {
	e := newEnv(t, sweepSoon)
	ctx := context.Background()
	content := []byte("left behind")
	c := e.pendingFile(content)
	time.Sleep(5 * time.Millisecond)
	if rep, err := e.srv.core.Sweep(ctx); err != nil || rep.AbandonedRecords != 1 {
		t.Fatalf("Sweep = %+v, %v; want the record swept", rep, err)
	}
	w, err := e.blobs.Create(ctx, contentKey(tenantA, hashOf(content), c.Rec.ID))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if rep, err := e.srv.core.Sweep(ctx); err != nil || rep.OrphanedObjects != 1 {
		t.Fatalf("Sweep = %+v, %v; want the content removed as an orphan", rep, err)
	}
	e.wantNothingStored()
}

// afterStale runs hook once, right after the sweeper lists stale records
// and before it deletes any: the moment an upload or a touch races it.
type afterStale struct {
	meta.Store
	hook func()
}

func (m *afterStale) Stale(ctx context.Context, s meta.Status, before time.Time, limit int) ([]meta.File, error) {
	fs, err := m.Store.Stale(ctx, s, before, limit)
	if h := m.hook; h != nil {
		m.hook = nil
		h()
	}
	return fs, err
}

// TestSweepSparesARecordThatMovedAfterItWasListed: a record the sweeper
// found stale, but that was uploaded, created again or touched by a
// multipart upload before the sweeper got to it, is not deleted.
func TestSweepSparesARecordThatMovedAfterItWasListed(t *testing.T) {
	for _, tc := range []struct {
		name string
		move func(e *testEnv, c apiResp, content []byte)
		want meta.Status
	}{
		{"uploaded", func(e *testEnv, c apiResp, content []byte) {
			if up := e.put(c.UploadURL, content); up.status != http.StatusOK || up.Status != "uploaded" {
				e.t.Fatalf("PUT = %d %s", up.status, up.body)
			}
		}, meta.StatusUploaded},
		{"created again", func(e *testEnv, c apiResp, content []byte) {
			if again := e.create(keyA, "f.bin", content); again.Rec == nil || again.Rec.ID != c.Rec.ID {
				e.t.Fatalf("create again = %d %s", again.status, again.body)
			}
		}, meta.StatusPending},
		{"touched by a multipart upload", func(e *testEnv, c apiResp, content []byte) {
			// Starting a multipart upload touches the record (Server.touch).
			newMP(e.t.(*testing.T), e.url).start(c.Rec.ID, int64(len(content)), int64(len(content)))
		}, meta.StatusPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hooked := &afterStale{}
			e := newEnv(t, sweepSoon, func(c *Config) { hooked.Store = c.Meta; c.Meta = hooked })
			content := []byte("raced the sweeper: " + tc.name)
			c := e.pendingFile(content)
			time.Sleep(5 * time.Millisecond) // older than PendingTTL
			hooked.hook = func() { tc.move(e, c, content) }
			rep, err := e.srv.core.Sweep(context.Background())
			if err != nil || rep.AbandonedRecords != 0 {
				t.Fatalf("Sweep = %+v, %v; want no record swept", rep, err)
			}
			if f, err := e.meta.Get(context.Background(), tenantA, c.Rec.ID); err != nil || f.Status != tc.want {
				t.Fatalf("record after the sweep = %+v, %v; want it %s", f, err, tc.want)
			}
			if tc.want == meta.StatusPending {
				if up := e.put(c.UploadURL, content); up.status != http.StatusOK || up.Status != "uploaded" {
					t.Fatalf("PUT after the sweep = %d %s", up.status, up.body)
				}
			}
			if res, got := e.download("GET", keyA, c.Rec.ID, nil); res.StatusCode != http.StatusOK || string(got) != string(content) {
				t.Fatalf("download after the sweep = %d %q", res.StatusCode, got)
			}
		})
	}
}

// TestPutToAFailedRecordIsRefusedUntilCreatedAgain: a PUT to a failed
// record answers 409 file_failed and keeps nothing; create heals it.
func TestPutToAFailedRecordIsRefusedUntilCreatedAgain(t *testing.T) {
	e := newEnv(t)
	content := []byte("after a failure")
	c := e.pendingFile(content)
	if _, err := e.meta.Transition(context.Background(), c.Rec.ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "wrong bytes"}); err != nil {
		t.Fatal(err)
	}
	if r := e.put(c.UploadURL, content); r.status != http.StatusConflict || r.Code != "file_failed" {
		t.Fatalf("PUT to a failed record: %d %s %q", r.status, r.Code, r.Message)
	}
	e.wantNothingStored()
	again := e.create(keyA, "f.bin", content)
	if again.Rec == nil || again.Rec.ID != c.Rec.ID || again.Rec.Status != "pending" {
		t.Fatalf("create after failure = %+v", again)
	}
	if up := e.put(again.UploadURL, content); up.status != http.StatusOK || up.Status != "uploaded" {
		t.Fatalf("PUT after create = %d %s", up.status, up.body)
	}
}
