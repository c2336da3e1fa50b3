package local

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// place makes f, written under the name src, the object at dst, durably:
// f's bytes are synced before the rename, and dst's directory after it,
// and so are the entries of the directories made on the way, so that a
// committed object's path survives a crash, not only its last entry.
// f's own fsync and the syncs of the new directories' parents run at the
// same time, since neither needs the other; directories go through the
// store's group commit (syncGroup). It closes f.
//
// A Delete tidying up empty directories may remove a parent between
// making it and the rename: place makes it again then. Outside objects/
// (an appendable's state: writeState) it makes no directories: dst's
// must be there.
func (s *Store) place(f *os.File, src, dst string) error {
	dir := filepath.Dir(dst)
	err := s.syncWithDirs(f, dir)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	for try := 0; err == nil; try++ {
		err = os.Rename(src, dst)
		if !errors.Is(err, fs.ErrNotExist) || try == 2 {
			break
		}
		err = s.makeDirs(dir, s.unsynced(dir))
	}
	if err != nil {
		return err
	}
	if err := s.syncs.sync(dir); err != nil {
		return placedError{err}
	}
	return nil
}

// placedError is place's error once src was renamed to dst: dst's
// directory could not be synced, so dst is there but may not be durable.
// src is gone then, which is no sign that anyone removed it.
type placedError struct{ err error }

func (e placedError) Error() string { return "sync directory: " + e.err.Error() }
func (e placedError) Unwrap() error { return e.err }

// syncWithDirs fsyncs f while dir and its parents are made durably.
func (s *Store) syncWithDirs(f *os.File, dir string) error {
	todo := s.unsynced(dir)
	if len(todo) == 0 {
		return s.syncFile(f)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.syncFile(f) }()
	err := s.makeDirs(dir, todo)
	return errors.Join(err, <-errc)
}

// unsynced returns the directories of dir's path under the objects root
// whose entry in their parent may not be durable: those missing, and
// those made by a commit that may still be syncing their parent.
func (s *Store) unsynced(dir string) []string {
	var todo []string
	there := false // dir is there, and so are its parents
	for d := dir; d != s.objects && strings.HasPrefix(d, s.objects); d = filepath.Dir(d) {
		// Stat before made.has: a directory is recorded in made before it
		// is made, so one seen there is seen in made too, unless its maker
		// has synced it since. The other order could miss a directory made
		// between the two looks, and take it for durable.
		if !there {
			if _, err := os.Stat(d); err != nil {
				todo = append(todo, d)
				continue
			}
			there = true
		}
		if s.made.has(d) {
			todo = append(todo, d)
		}
	}
	return todo
}

// makeDirs makes dir and its missing parents, and syncs the parent of each
// of todo (from unsynced), all at once.
func (s *Store) makeDirs(dir string, todo []string) error {
	if len(todo) == 0 {
		return nil
	}
	if err := s.made.mkdirs(dir, todo); err != nil {
		return err
	}
	errs := make(chan error, len(todo))
	for _, d := range todo {
		go func() {
			err := s.syncs.sync(filepath.Dir(d))
			if err == nil {
				s.made.synced(d)
			}
			errs <- err
		}()
	}
	var err error
	for range todo {
		err = errors.Join(err, <-errs)
	}
	return err
}

// madeDirs are the directories made by this store whose entry in their
// parent may not be durable yet: made, and their parent not synced since.
// Such a directory is never removed (prune), so it is made once, and any
// sync of its parent that begins after it is there makes its entry
// durable. Each is counted once per commit that relies on it (mkdirs)
// until that commit's sync of its parent (synced): two commits may make
// the same directory at once, and the first to sync must not leave the
// other's unprotected, to be pruned before the other's sync opens its
// parent. Another process sharing the directory cannot see them; its
// commits rely on their own syncs.
type madeDirs struct {
	mu   sync.Mutex // held by prune from looking at a directory to removing it
	dirs map[string]int
}

func (m *madeDirs) has(dir string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dirs[dir] > 0
}

// mkdirs makes dir and its parents, recording todo as made first: from
// then on prune leaves them.
func (m *madeDirs) mkdirs(dir string, todo []string) error {
	m.mu.Lock()
	if m.dirs == nil {
		m.dirs = map[string]int{}
	}
	for _, d := range todo {
		m.dirs[d]++
	}
	m.mu.Unlock()
	return os.MkdirAll(dir, 0o700)
}

// synced records that dir's parent was synced after dir was made, for
// one of the commits that counted on it.
func (m *madeDirs) synced(dir string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dirs[dir]--; m.dirs[dir] <= 0 {
		delete(m.dirs, dir)
	}
}

// prune removes dir and its parents below root while they are empty,
// leaving those whose entry a commit may still be syncing.
func (m *madeDirs) prune(root, dir string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ; dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)); dir = filepath.Dir(dir) {
		if m.dirs[dir] > 0 || os.Remove(dir) != nil { // not empty, or already gone
			return
		}
	}
}
