package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncLog stands in for the disk: it records what each fsync would have
// made durable, the entries of a directory as its fsync began and the
// files synced, and what had been made durable when a commit returned.
type syncLog struct {
	mu      sync.Mutex
	durable map[string][]string // directory → entries seen by fsyncs of it that have returned
	files   []os.FileInfo       // files synced while still at their temp name
	fsyncs  map[string]int      // directory → fsyncs of it
	early   []string            // files synced after they left their temp name
}

func newSyncLog(s *Store) *syncLog {
	l := &syncLog{durable: map[string][]string{}, fsyncs: map[string]int{}}
	s.syncs.fsync = func(dir string) error {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond) // a disk's flush: others arrive meanwhile
		l.mu.Lock()
		defer l.mu.Unlock()
		l.fsyncs[dir]++
		for _, e := range entries {
			l.durable[dir] = append(l.durable[dir], e.Name())
		}
		return nil
	}
	s.syncFile = func(f *os.File) error {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if at, err := os.Stat(f.Name()); err != nil || !os.SameFile(at, fi) {
			l.early = append(l.early, f.Name())
		}
		l.files = append(l.files, fi)
		return nil
	}
	return l
}

// holds reports whether the entry name of dir was durable.
func (l *syncLog) holds(dir, name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.durable[dir], name)
}

func (l *syncLog) synced(fi os.FileInfo) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.files, func(s os.FileInfo) bool { return os.SameFile(s, fi) })
}

// checkDurable checks, as a commit of key returns, that its bytes, its
// entry and the entry of every directory of its path were durable.
func checkDurable(t *testing.T, s *Store, l *syncLog, key string) {
	p, _ := s.path(key)
	fi, err := os.Stat(p)
	if err != nil {
		t.Errorf("%s: %v", key, err)
		return
	}
	if !l.synced(fi) {
		t.Errorf("Commit of %s returned before its file was synced", key)
	}
	for d := p; d != s.objects; d = filepath.Dir(d) {
		if !l.holds(filepath.Dir(d), filepath.Base(d)) {
			t.Errorf("Commit of %s returned before %s was durable in %s", key, filepath.Base(d), filepath.Dir(d))
		}
	}
}

func TestCommitReturnsOnlyOnceItsBytesAndEntriesAreDurable(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newSyncLog(s)
	const n = 48
	keys := make([]string, n)
	for i := range keys {
		switch i % 4 {
		case 0: // one directory for them all: their fsyncs are shared
			keys[i] = fmt.Sprintf("files/t/streamed/%02d", i)
		default: // a few shards, a few contents in each, one new directory each time
			keys[i] = fmt.Sprintf("files/t/s%d/c%d/%02d", i%3, i%6, i)
		}
	}
	var wg sync.WaitGroup
	for _, key := range keys {
		wg.Go(func() { commitDurably(t, s, l, key) })
	}
	wg.Wait()
	if len(l.early) > 0 {
		t.Errorf("files synced after their rename: %v", l.early)
	}
	streamed := filepath.Join(s.objects, "files", "t", "streamed")
	if got := l.fsyncs[streamed]; got >= n/4 {
		t.Errorf("%d commits into one directory, at once, made %d fsyncs of it: none shared", n/4, got)
	}
	if len(s.made.dirs) > 0 {
		t.Errorf("directories still marked as not durable after every commit returned: %v", s.made.dirs)
	}
	t.Logf("%d commits: %d fsyncs of %s, %d directory fsyncs in all", n, l.fsyncs[streamed], streamed, sum(l.fsyncs))
}

// commitDurably writes key (its own name as its bytes), commits it and
// checks that the commit made it durable; false if it could not.
func commitDurably(t *testing.T, s *Store, l *syncLog, key string) bool {
	w, err := s.Create(context.Background(), key)
	if err != nil {
		t.Error(err)
		return false
	}
	w.Write([]byte(key))
	if err := w.Commit(context.Background()); err != nil {
		t.Errorf("Commit(%s): %v", key, err)
		return false
	}
	checkDurable(t, s, l, key)
	return true
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// A Delete removes the directories it leaves empty, while other commits
// make them again: every commit still lands, durably, and every object
// not deleted stays.
func TestCommitsRaceDeletesOfTheirDirectories(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newSyncLog(s)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				key := fmt.Sprintf("files/t/s%d/c%d/%d-%d", i%2, i%4, g, i)
				if !commitDurably(t, s, l, key) {
					return
				}
				if g%2 == 0 { // half of them go again at once, emptying directories
					if err := s.Delete(ctx, key); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	var left int
	filepath.WalkDir(s.objects, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left++
			if b, _ := os.ReadFile(p); !strings.HasSuffix(p, string(b)[strings.LastIndex(string(b), "/")+1:]) {
				t.Errorf("%s holds %q", p, b)
			}
		}
		return nil
	})
	if left != 4*20 {
		t.Errorf("%d objects left, want %d (those not deleted)", left, 4*20)
	}
}

// Two commits that make one directory at once each count on it until
// their own sync of its parent: the first to sync leaves it protected
// from a Delete's pruning for the other (whose sync opens the parent).
func TestMadeDirsCountEachCommit(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "s0", "c0")
	var m madeDirs
	for range 2 {
		if err := m.mkdirs(dir, []string{dir}); err != nil {
			t.Fatal(err)
		}
	}
	m.synced(dir) // the first commit's parent sync
	m.prune(root, dir)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("pruned while a commit still counts on it: %v", err)
	}
	m.synced(dir)
	m.prune(root, dir)
	if _, err := os.Stat(filepath.Join(root, "s0")); !os.IsNotExist(err) || len(m.dirs) != 0 {
		t.Fatalf("after both syncs: %v, %v; want it pruned and nothing counted", err, m.dirs)
	}
}
