package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus/internal/keys"
	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/blob/local"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// notifiedStore is a local store that takes direct uploads (the tests
// write the staged bytes themselves: its URLs are never used), names the
// notified objects of bucket "b" under the prefix "p/", and counts its
// listings of the staging area.
type notifiedStore struct {
	*local.Store
	lists *atomic.Int64
}

func (notifiedStore) PresignPut(_ context.Context, key string, _ time.Duration) (string, error) {
	return "http://store.invalid/" + key, nil
}

func (notifiedStore) KeyOf(bucket, object string) (string, bool) {
	k, ok := strings.CutPrefix(object, "p/")
	return k, ok && bucket == "b"
}

func (s notifiedStore) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	if prefix == keys.StagingPrefix {
		s.lists.Add(1)
	}
	return s.Store.List(ctx, prefix, fn)
}

// notifiedCores are n cores over one SQLite store and one directory of
// content, as replicas (the SQLite store locks in its process alone, which
// is where these are), each running until t ends.
func notifiedCores(t *testing.T, n int, tweak func(*Config)) ([]*Core, []*atomic.Int64, []context.CancelFunc) {
	t.Helper()
	dir := t.TempDir()
	ms, err := sqlite.Open(context.Background(), filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	bs, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var cores []*Core
	var lists []*atomic.Int64
	var stops []context.CancelFunc
	for range n {
		l := &atomic.Int64{}
		cfg := Config{Meta: ms, Blobs: notifiedStore{bs, l}, Signer: sign.New([]byte("ssssssssssssssssssssssssssssssss")), Notified: true}
		tweak(&cfg)
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		cores, lists, stops = append(cores, c), append(lists, l), append(stops, cancel)
	}
	return cores, lists, stops
}

// stage writes content where a direct upload of rec lands, and returns its key.
func stage(t *testing.T, c *Core, rec meta.File, content []byte) string {
	t.Helper()
	key := keys.StagingDir(rec.Tenant, rec.ID) + "nonce"
	w, err := c.blobs.Create(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestArrivalIsVerifiedAtOnce: a notified direct upload is verified by
// Run's workers at once, though the listing comes by hourly; what is not
// a direct upload to the core's store is ignored.
func TestArrivalIsVerifiedAtOnce(t *testing.T) {
	cores, _, _ := notifiedCores(t, 1, func(c *Config) { c.VerifyInterval = time.Hour })
	c := cores[0]
	ctx := context.Background()
	time.Sleep(100 * time.Millisecond) // the listing's round at start is over
	content := []byte("arrived")
	rec, _, err := c.Create(ctx, "t", "a.txt", hashOf(content))
	if err != nil {
		t.Fatal(err)
	}
	key := stage(t, c, rec, content)
	for _, tc := range []struct{ bucket, object string }{
		{"other", "p/" + key},                    // another bucket
		{"b", key},                               // outside the prefix
		{"b", "p/" + keys.Content(rec)},          // no direct upload
		{"b", "p/" + keys.StagingPrefix + "t/x"}, // not a staging key
	} {
		if a := c.Arrived(tc.bucket, tc.object); a != ArrivalIgnored {
			t.Errorf("Arrived(%q, %q) = %d; want ignored", tc.bucket, tc.object, a)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if f, _ := c.Get(ctx, "t", rec.ID); f.Status != meta.StatusPending {
		t.Fatalf("after ignored notifications the file is %s; want pending", f.Status)
	}
	start := time.Now()
	if a := c.Arrived("b", "p/"+key); a != ArrivalQueued {
		t.Fatalf("Arrived = %d; want queued", a)
	}
	f, err := c.Await(ctx, "t", rec.ID, 5*time.Second)
	if err != nil || f.Status != meta.StatusUploaded {
		t.Fatalf("after the notification: %+v, %v; want uploaded", f, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("uploaded %v after the notification", d)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := c.blobs.Stat(ctx, key); errors.Is(err, blob.ErrNotFound) {
			break // gone once the record is settled
		}
		if time.Now().After(deadline) {
			t.Fatal("the staged object is still there")
		}
	}
	// Told again: nothing is staged, nothing happens.
	if err := c.VerifyStaged(ctx, key); err != nil {
		t.Errorf("VerifyStaged of a key verified already: %v", err)
	}
	if err := c.VerifyStaged(ctx, keys.Content(rec)); err == nil {
		t.Error("VerifyStaged of a content key: no error")
	}
}

// TestArrivalsBeyondTheQueueAreLeftToTheListing: without Run to drain it,
// the queue fills, and what comes after is deferred, not waited for.
func TestArrivalsBeyondTheQueueAreLeftToTheListing(t *testing.T) {
	bs, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := newCore(t, func(cfg *Config) {
		cfg.Blobs, cfg.Notified = notifiedStore{bs, &atomic.Int64{}}, true
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	if c.cfg.VerifyInterval != time.Minute {
		t.Errorf("VerifyInterval = %v when notified; want 1m by default", c.cfg.VerifyInterval)
	}
	for i := range arrivalQueue {
		if a := c.Arrived("b", "p/staging/t/id/"+string(rune('a'+i%26))); a != ArrivalQueued {
			t.Fatalf("arrival %d: %d; want queued", i, a)
		}
	}
	if a := c.Arrived("b", "p/staging/t/id/n"); a != ArrivalDeferred {
		t.Fatalf("arrival beyond the queue: %d; want deferred", a)
	}
}

// TestOneReplicaListsWhenNotified: with notifications, one core of three
// lists the staging area, every interval; without, every one does.
func TestOneReplicaListsWhenNotified(t *testing.T) {
	for _, notified := range []bool{true, false} {
		_, lists, _ := notifiedCores(t, 3, func(c *Config) { c.Notified = notified; c.VerifyInterval = 10 * time.Millisecond })
		// The sweep of each core at start lists the staging area too: past them.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			all := true
			for _, l := range lists {
				all = all && l.Load() > 0
			}
			if all {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("not every core listed the staging area at start")
			}
		}
		time.Sleep(50 * time.Millisecond)
		for _, l := range lists {
			l.Store(0)
		}
		time.Sleep(300 * time.Millisecond)
		var listed []int64
		listers := 0
		for _, l := range lists {
			listed = append(listed, l.Load())
			if l.Load() > 0 {
				listers++
			}
		}
		if notified && listers != 1 || !notified && listers != 3 {
			t.Errorf("notified %v: listings by core %v in 300ms; want %s", notified, listed, map[bool]string{true: "one core's", false: "every core's"}[notified])
		}
	}
}
