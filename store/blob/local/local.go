// Package local is the embedded blob.Store: objects as files in a directory, written durably.
//
// Layout under the root directory:
//
//	root/
//	├── tmp/            writes in progress (removed on Abort, renamed on Commit; emptied by Open)
//	├── objects/
//	│   └── <key>       one file per key; keys are slash-separated paths
//	├── assemblies/
//	│   └── <id>/       one object being assembled from parts (blob.Assembler)
//	│       ├── data                      sparse, the object's size; each part written at its offset
//	│       ├── <nnnnn>-<size>-<sha256>   marker: part n, size bytes hashing to sha256, is durable in data
//	│       │                             (it holds a token of the write that made it; see assemble_hash.go)
//	│       ├── lock-<nnnnn>              empty: every writer of part n holds it locked (flock) shared
//	│       └── sealed                    empty: the assembly is being completed; no more parts
//	└── appends/
//	    └── <id>/       one object taken in order over many writes (blob.Appender; append.go)
//	        ├── data    the bytes appended so far (past the count, what a failed append left)
//	        └── state   the bytes committed, the owner's state with them; replaced whole by each commit
//
// A Commit writes to a temp file in tmp/, fsyncs it, renames it into place and
// fsyncs the destination directory, so a committed object survives a crash;
// the directories it makes on the way are fsynced into their parents too,
// and concurrent commits share the fsyncs of a directory (place.go).
// An assembly survives restarts: a part's marker is created, and its
// directory fsynced, only after data was fsynced with the part's bytes in
// it, so a marker always speaks for durable bytes. CommitAssembly fsyncs
// data, renames it to its key and fsyncs that directory, as Commit does.
// An appendable's Commit fsyncs data, then replaces state as Commit places
// an object (temp file, fsync, rename, fsync of the directory), so that
// state only ever counts durable bytes; CommitAppended moves data to its
// key as Commit does.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/perseus-go/perseus/store/blob"
)

// Store is a blob.Store in a local directory.
type Store struct {
	objects    string
	tmp        string
	assemblies string
	appends    string

	mu   sync.Mutex
	live map[string]*live // by assembly directory

	syncs *syncGroup // directory syncs, shared by concurrent commits (place.go)
	made  madeDirs   // directories made whose entries may not be durable yet
	// syncFile makes a file's bytes durable (fsync; tests replace it).
	syncFile func(*os.File) error
}

var (
	_ blob.Store     = (*Store)(nil)
	_ blob.Copier    = (*Store)(nil)
	_ blob.Assembler = (*Store)(nil)
	_ blob.Appender  = (*Store)(nil)
)

// Open returns the store rooted at dir, creating it if needed. Temp files
// unwritten for an hour (a crashed writer's leftovers) are removed; younger ones
// may belong to another process sharing the directory and are left alone.
func Open(dir string) (*Store, error) {
	s := &Store{objects: filepath.Join(dir, "objects"), tmp: filepath.Join(dir, "tmp"),
		assemblies: filepath.Join(dir, "assemblies"), appends: filepath.Join(dir, "appends"), live: map[string]*live{},
		syncs: newSyncGroup(), syncFile: (*os.File).Sync}
	if err := removeStale(s.tmp, staleTemp); err != nil {
		return nil, fmt.Errorf("local: clean %s: %w", s.tmp, err)
	}
	for _, d := range []string{s.objects, s.tmp, s.assemblies, s.appends} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("local: %w", err)
		}
	}
	return s, nil
}

// staleTemp is how long a temp file must go unwritten before Open takes it
// for a crashed writer's leftover. A live writer (perhaps another replica
// sharing the directory) writes far more often than that.
const staleTemp = time.Hour

// removeStale removes the files in dir not modified for age.
func removeStale(dir string, age time.Duration) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > age {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// path maps a key to its file, refusing keys that could escape the root.
func (s *Store) path(key string) (string, error) { return under(s.objects, key) }

// under maps a key to its path below dir, refusing keys that could escape it.
func under(dir, key string) (string, error) {
	if key == "" || path.Clean(key) != key || strings.HasPrefix(key, "/") || strings.HasPrefix(key, "..") {
		return "", fmt.Errorf("local: invalid key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." {
			return "", fmt.Errorf("local: invalid key %q", key)
		}
	}
	return filepath.Join(dir, filepath.FromSlash(key)), nil
}

type writer struct {
	s    *Store
	f    *os.File
	dst  string
	done bool
	wb   writeback
}

// Create implements blob.Store.
func (s *Store) Create(_ context.Context, key string) (blob.Writer, error) {
	dst, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(s.tmp, "put-*")
	if err != nil {
		return nil, fmt.Errorf("local: create %s: %w", key, err)
	}
	return &writer{s: s, f: f, dst: dst, wb: writeback{viaCache: viaCacheFor(-1)}}, nil
}

func (w *writer) Write(p []byte) (int, error) { return w.wb.writeAt(w.f, 0, p) }

// Commit makes the bytes durable and visible: fsync, rename, fsync the
// directory (place).
func (w *writer) Commit(context.Context) error {
	if w.done {
		return errors.New("local: writer already finished")
	}
	w.done = true
	if err := w.wb.flush(w.f, 0); err != nil {
		w.f.Close()
		os.Remove(w.f.Name())
		return fmt.Errorf("local: commit: %w", err)
	}
	if err := w.s.place(w.f, w.f.Name(), w.dst); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("local: commit: %w", err)
	}
	return nil
}

func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.wb.release()
	w.f.Close()
	return os.Remove(w.f.Name())
}

// Open implements blob.Store.
func (s *Store) Open(_ context.Context, key string, offset int64) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, mapErr(key, err)
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("local: seek %s: %w", key, err)
		}
	}
	return f, nil
}

// Stat implements blob.Store.
func (s *Store) Stat(_ context.Context, key string) (blob.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return blob.Info{}, mapErr(key, err)
	}
	return blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements blob.Store. Directories left empty are removed too.
func (s *Store) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local: delete %s: %w", key, err)
	}
	s.made.prune(s.objects, filepath.Dir(p))
	return nil
}

// prune removes dir and its parents below root while they are empty.
func prune(root, dir string) {
	for ; dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty, or already gone
			return
		}
	}
}

// List implements blob.Store.
func (s *Store) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	err := walkFiles(ctx, s.objects, prefix, func(key string, fi fs.FileInfo) error {
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		return fn(blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
	})
	if err != nil {
		return fmt.Errorf("local: list %s: %w", prefix, err)
	}
	return nil
}

// walkFiles calls fn with the slash-separated key (relative to root) and
// the info of every file under root, skipping directories that cannot hold
// keys starting with prefix and files removed while walking.
func walkFiles(ctx context.Context, root, prefix string, fn func(key string, fi fs.FileInfo) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(root, p)
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if key != "." && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed while walking
		}
		return fn(key, fi)
	})
}

// Copy implements blob.Copier with a durable copy.
func (s *Store) Copy(ctx context.Context, src, dst string) error {
	r, err := s.Open(ctx, src, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := s.Create(ctx, dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return fmt.Errorf("local: copy %s: %w", src, err)
	}
	return w.Commit(ctx)
}

// Ping implements blob.Store: the directories must be there and writable.
func (s *Store) Ping(context.Context) error {
	f, err := os.CreateTemp(s.tmp, "ping-*")
	if err != nil {
		return fmt.Errorf("local: ping: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func mapErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return blob.ErrNotFound
	}
	return fmt.Errorf("local: %s: %w", key, err)
}
