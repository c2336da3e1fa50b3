package local

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blockingFsync is an fsync that records its calls and waits, before
// returning, for its directory's release.
type blockingFsync struct {
	calls   atomic.Int32
	started chan string
	release map[string]chan error
}

func newBlockingFsync(dirs ...string) *blockingFsync {
	b := &blockingFsync{started: make(chan string, 16), release: map[string]chan error{}}
	for _, d := range dirs {
		b.release[d] = make(chan error)
	}
	return b
}

func (b *blockingFsync) fsync(dir string) error {
	b.calls.Add(1)
	b.started <- dir
	return <-b.release[dir]
}

// waitJoined waits until n callers wait for the next fsync of dir.
func waitJoined(t *testing.T, g *syncGroup, dir string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		g.mu.Lock()
		joined := 0
		if d := g.dirs[dir]; d != nil && d.next != nil {
			joined = d.next.waiting
		}
		g.mu.Unlock()
		if joined == n {
			return
		}
	}
	t.Fatalf("%d callers never joined the next sync of %s", n, dir)
}

func TestSyncGroupLoneSyncRunsAtOnce(t *testing.T) {
	g := newSyncGroup()
	var calls []string
	g.fsync = func(dir string) error { calls = append(calls, dir); return nil }
	if err := g.sync("a"); err != nil {
		t.Fatal(err)
	}
	if err := g.sync("a"); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 {
		t.Errorf("two syncs one after the other made %d fsyncs, want 2 (each its own)", len(calls))
	}
	if len(g.dirs) != 0 {
		t.Errorf("an idle group keeps state for %d directories", len(g.dirs))
	}
}

func TestSyncGroupThoseWhoWaitShareOneFsync(t *testing.T) {
	g := newSyncGroup()
	b := newBlockingFsync("d", "other")
	g.fsync = b.fsync
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Go(func() { errs <- g.sync("d") })
	<-b.started // the first fsync runs, and cannot cover what comes next
	for range 5 {
		wg.Go(func() { errs <- g.sync("d") })
	}
	wg.Go(func() { errs <- g.sync("other") }) // another directory waits for nobody
	if dir := <-b.started; dir != "other" {
		t.Fatalf("fsync of %s started while the first ran, want only that of another directory", dir)
	}
	b.release["other"] <- nil
	waitJoined(t, g, "d", 5)
	if n := b.calls.Load(); n != 2 {
		t.Fatalf("%d fsyncs while the first ran, want 2 (it and the other directory's)", n)
	}
	b.release["d"] <- nil // the first
	if dir := <-b.started; dir != "d" {
		t.Fatalf("next fsync of %s, want d", dir)
	}
	b.release["d"] <- nil // the one the five waited for
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := b.calls.Load(); n != 3 {
		t.Errorf("%d fsyncs in all, want 3: the first, the other directory's, one for the five that waited", n)
	}
}

func TestSyncGroupErrorReachesEveryoneOfItsRound(t *testing.T) {
	g := newSyncGroup()
	b := newBlockingFsync("d")
	g.fsync = b.fsync
	first := make(chan error, 1)
	go func() { first <- g.sync("d") }()
	<-b.started
	waiters := make(chan error, 3)
	for range 3 {
		go func() { waiters <- g.sync("d") }()
	}
	waitJoined(t, g, "d", 3)
	b.release["d"] <- nil
	if err := <-first; err != nil {
		t.Fatalf("first: %v", err)
	}
	<-b.started
	broken := errors.New("EIO")
	b.release["d"] <- broken
	for range 3 {
		if err := <-waiters; !errors.Is(err, broken) {
			t.Errorf("a member of the failed round got %v, want its error", err)
		}
	}
	// A later sync is a new round: it runs its own fsync.
	go func() { <-b.started; b.release["d"] <- nil }()
	if err := g.sync("d"); err != nil {
		t.Errorf("a sync after the failed round: %v", err)
	}
}
