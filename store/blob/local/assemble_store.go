package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/perseus-go/perseus/store/blob"
)

// AssemblyParts implements blob.Assembler.
func (s *Store) AssemblyParts(_ context.Context, id string) ([]blob.Part, error) {
	dir, err := s.assemblyDir(id)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, mapErr(id, err)
	}
	var parts []blob.Part
	data := false
	for _, e := range entries {
		if p, ok := parseMarker(e.Name()); ok {
			parts = append(parts, p)
		}
		data = data || e.Name() == dataName
	}
	if !data { // committed, or half deleted: no assembly
		return nil, blob.ErrNotFound
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

// CommitAssembly implements blob.Assembler: it commits the very file
// HashAssembly hashed (and sealed) in this process, never whatever is at the
// assembly's path by then (deleted and made again meanwhile, here or in
// another process). It takes the file away from that path under a name of
// its own, checks that it is the one hashed (putting back a stranger),
// fsyncs it, renames it to the key, fsyncs that directory, then removes
// what is left of the assembly.
func (s *Store) CommitAssembly(_ context.Context, id, key string) error {
	dir, err := s.assemblyDir(id)
	if err != nil {
		return err
	}
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	var hashed os.FileInfo
	s.mu.Lock()
	if l := s.live[dir]; l != nil {
		l.mu.Lock()
		hashed = l.hashed
		l.mu.Unlock()
	}
	s.mu.Unlock()
	if hashed == nil { // never hashed here, or deleted since
		return fmt.Errorf("local: commit assembly %s: not hashed by HashAssembly: %w", id, blob.ErrNotFound)
	}
	data, mine := filepath.Join(dir, dataName), filepath.Join(dir, "commit-"+rand.Text())
	if err := os.Rename(data, mine); err != nil {
		return mapErr(id, err) // deleted meanwhile
	}
	f, err := os.Open(mine)
	if err != nil {
		return mapErr(id, err)
	}
	fi, err := f.Stat()
	if err == nil && !os.SameFile(fi, hashed) {
		f.Close()
		os.Link(mine, data) // back, unless yet another is there
		os.Remove(mine)
		return fmt.Errorf("local: commit assembly %s: not the file that was hashed: %w", id, blob.ErrNotFound)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("local: commit assembly %s to %s: %w", id, key, err)
	}
	if err := s.place(f, mine, dst); err != nil {
		var placed placedError
		if _, serr := os.Stat(mine); !errors.As(err, &placed) && errors.Is(serr, fs.ErrNotExist) {
			return mapErr(id, serr) // deleted meanwhile
		}
		return fmt.Errorf("local: commit assembly %s to %s: %w", id, key, err)
	}
	os.RemoveAll(dir) // its markers; without data they list nothing
	prune(s.assemblies, filepath.Dir(dir))
	s.forget(dir)
	return nil
}

// DeleteAssembly implements blob.Assembler.
func (s *Store) DeleteAssembly(_ context.Context, id string) error {
	dir, err := s.assemblyDir(id)
	if err != nil {
		return err
	}
	s.forget(dir)
	// A part being written meanwhile may add its marker after RemoveAll
	// listed the directory (ENOTEMPTY): try again; that writer finds the
	// assembly gone when it commits (partWriter.still).
	err = os.RemoveAll(dir)
	for i := 0; i < 10 && errors.Is(err, syscall.ENOTEMPTY); i++ {
		err = os.RemoveAll(dir)
	}
	if err != nil {
		return fmt.Errorf("local: delete assembly %s: %w", id, err)
	}
	prune(s.assemblies, filepath.Dir(dir))
	return nil
}

// ListAssemblies implements blob.Assembler: an assembly is a directory
// holding files.
func (s *Store) ListAssemblies(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	found := map[string]*blob.Info{}
	err := walkFiles(ctx, s.assemblies, prefix, func(key string, fi fs.FileInfo) error {
		id := path.Dir(key)
		if !strings.HasPrefix(id, prefix) || id == "." {
			return nil
		}
		a := found[id]
		if a == nil {
			a = &blob.Info{Key: id}
			found[id] = a
		}
		if fi.Name() == dataName {
			a.Size = fi.Size()
		}
		if fi.ModTime().After(a.ModTime) {
			a.ModTime = fi.ModTime()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("local: list assemblies %s: %w", prefix, err)
	}
	ids := make([]string, 0, len(found))
	for id := range found {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := fn(*found[id]); err != nil {
			return err
		}
	}
	return nil
}
