package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

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

// CommitAssembly implements blob.Assembler: fsync the data, rename it to the
// key, fsync that directory, then remove what is left of the assembly.
func (s *Store) CommitAssembly(_ context.Context, id, key string) error {
	dir, err := s.assemblyDir(id)
	if err != nil {
		return err
	}
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, dataName), os.O_RDWR, 0)
	if err != nil {
		return mapErr(id, err)
	}
	if _, err := os.Stat(filepath.Join(dir, sealedName)); err != nil {
		f.Close()
		if _, derr := os.Stat(f.Name()); errors.Is(derr, fs.ErrNotExist) {
			return mapErr(id, derr) // deleted meanwhile
		}
		return fmt.Errorf("local: commit assembly %s: not sealed by HashAssembly: %w", id, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(dst), 0o700)
	}
	if err == nil {
		if err = os.Rename(f.Name(), dst); errors.Is(err, fs.ErrNotExist) {
			return mapErr(id, err) // deleted meanwhile
		}
	}
	if err == nil {
		err = syncDir(filepath.Dir(dst))
	}
	if err != nil {
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
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("local: delete assembly %s: %w", id, err)
	}
	prune(s.assemblies, filepath.Dir(dir))
	return nil
}

// ListAssemblies implements blob.Assembler: an assembly is a directory
// holding files.
func (s *Store) ListAssemblies(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	found := map[string]*blob.Info{}
	err := filepath.WalkDir(s.assemblies, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(s.assemblies, p)
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if key != "." && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		id := path.Dir(key)
		if !strings.HasPrefix(id, prefix) || id == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed while walking
		}
		a := found[id]
		if a == nil {
			a = &blob.Info{Key: id}
			found[id] = a
		}
		if d.Name() == dataName {
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
