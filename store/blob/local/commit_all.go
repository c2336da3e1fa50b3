package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/perseus-go/perseus/store/blob"
)

var _ blob.BatchCommitter = (*Store)(nil)

// CommitAll implements blob.BatchCommitter. Each object is made durable
// as Commit makes it (place.go), in three steps taken by all of them
// together, so that the syncs of one step are issued at once and a
// directory is synced once for the batch:
//
//  1. every file's fsync, at the same time (the kernel lets concurrent
//     fsyncs share the journal's commits and the disk's cache flushes),
//     while the directories the batch needs are made and the parents of
//     those made synced, each parent once;
//  2. the renames into place;
//  3. one fsync of each destination directory, all at once.
//
// A writer's object is durable when its steps all succeeded; a failure
// fails the writers it concerns and no other.
func (s *Store) CommitAll(_ context.Context, ws []blob.Writer) []error {
	errs := make([]error, len(ws))
	var todo []int
	for i, bw := range ws {
		w, ok := bw.(*writer)
		switch {
		case !ok || w.s != s:
			errs[i] = errors.New("local: commit all: not a writer of this store")
		case w.done:
			errs[i] = errors.New("local: writer already finished")
		default:
			w.done = true
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return errs
	}
	writer := func(i int) *writer { return ws[i].(*writer) }
	var mu sync.Mutex // errs, from goroutines
	fail := func(i int, step string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if errs[i] == nil {
			errs[i] = fmt.Errorf("local: commit all: %s: %w", step, err)
		}
	}

	// 1. The files' bytes, and the directories they go into.
	byDir := map[string][]int{}
	for _, i := range todo {
		dir := filepath.Dir(writer(i).dst)
		byDir[dir] = append(byDir[dir], i)
	}
	var wg sync.WaitGroup
	for _, i := range todo {
		wg.Go(func() {
			w := writer(i)
			err := w.wb.flush(w.f, 0)
			if err == nil {
				err = s.syncFile(w.f)
			}
			if cerr := w.f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				fail(i, "sync", err)
			}
		})
	}
	for dir, err := range s.makeAll(byDir) {
		for _, i := range byDir[dir] {
			fail(i, "make directory", err)
		}
	}
	wg.Wait()

	// 2. The renames.
	for _, i := range todo {
		if errs[i] != nil {
			continue
		}
		w := writer(i)
		dir := filepath.Dir(w.dst)
		var err error
		for try := 0; ; try++ {
			err = os.Rename(w.f.Name(), w.dst)
			if !errors.Is(err, fs.ErrNotExist) || try == 2 {
				break
			}
			// A Delete pruned the directory meanwhile: make it again.
			if err = s.makeDirs(dir, s.unsynced(dir)); err != nil {
				break
			}
		}
		if err != nil {
			fail(i, "rename", err)
		}
	}

	// 3. Each destination directory, once.
	for dir, in := range byDir {
		wg.Go(func() {
			if err := s.syncs.sync(dir); err != nil {
				for _, i := range in {
					fail(i, "sync directory", placedError{err})
				}
			}
		})
	}
	wg.Wait()
	for _, i := range todo {
		if errs[i] != nil {
			os.Remove(writer(i).f.Name()) // gone once renamed
		}
	}
	return errs
}

// makeAll makes each directory of dirs (the keys) and its missing parents,
// syncing the parent of every directory that may not be durable in it,
// each parent once for all, at the same time; it returns the errors by
// directory of dirs.
func (s *Store) makeAll(dirs map[string][]int) map[string]error {
	errs := map[string]error{}
	todos := map[string][]string{} // dir → its directories to make durable (unsynced)
	parents := map[string]error{}  // the parents to sync → how their sync went
	for dir := range dirs {
		todo := s.unsynced(dir)
		if len(todo) == 0 {
			continue
		}
		if err := s.made.mkdirs(dir, todo); err != nil {
			errs[dir] = err
			continue
		}
		todos[dir] = todo
		for _, d := range todo {
			parents[filepath.Dir(d)] = nil
		}
	}
	list := make([]string, 0, len(parents))
	for p := range parents {
		list = append(list, p)
	}
	synced := make([]error, len(list))
	var wg sync.WaitGroup
	for k, p := range list {
		wg.Go(func() { synced[k] = s.syncs.sync(p) })
	}
	wg.Wait()
	for k, p := range list {
		parents[p] = synced[k]
	}
	for dir, todo := range todos {
		for _, d := range todo {
			if err := parents[filepath.Dir(d)]; err != nil {
				errs[dir] = errors.Join(errs[dir], err)
			} else {
				s.made.synced(d) // its parent was synced after it was made
			}
		}
	}
	return errs
}
