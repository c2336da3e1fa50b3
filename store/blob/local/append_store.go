package local

import (
	"bytes"
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

var _ blob.InPlaceAppender = (*Store)(nil)

// AppendsInPlace implements blob.InPlaceAppender: CommitAppended renames
// the appendable's data file to the object.
func (s *Store) AppendsInPlace() bool { return true }

// Appended implements blob.Appender.
func (s *Store) Appended(_ context.Context, id string) (int64, []byte, error) {
	dir, err := s.appendDir(id)
	if err != nil {
		return 0, nil, err
	}
	st, err := readState(dir)
	if err != nil {
		return 0, nil, mapErr(id, err)
	}
	if st.key == "" {
		return st.n, st.state, nil
	}
	switch _, err := os.Lstat(filepath.Join(dir, dataName)); {
	case errors.Is(err, fs.ErrNotExist): // moved to st.key: committed
		return st.n, st.final, nil
	case err != nil:
		return 0, nil, fmt.Errorf("local: appended %s: %w", id, err)
	}
	return st.n, st.state, nil // CommitAppended began, and failed or was cut off before moving the bytes
}

// CommitAppended implements blob.Appender. It records key and state
// beside the state committed with the bytes (a state file written as a
// Commit writes it), then moves data to key as a Commit of key does
// (place: fsync, rename, fsync of key's directory and of those it made),
// and fsyncs the appendable's directory. Appended reports the new state
// from the moment data is gone from its directory: the switch is the
// rename itself, so a crash at any point leaves either the object at key
// and the new state, or neither. A call cut off after recording key (by a
// crash or an error) is taken up again by the next one: with any key if
// the bytes had not moved yet, with the same key if they had (that call
// makes the move durable, in case the one cut off did not); a call for
// another key fails once the bytes are gone, as the object they made
// stays where it is.
func (s *Store) CommitAppended(ctx context.Context, id, key string, state []byte) error {
	dir, err := s.appendDir(id)
	if err != nil {
		return err
	}
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := readState(dir)
	if err != nil {
		return mapErr(id, err)
	}
	data := filepath.Join(dir, dataName)
	f, err := os.OpenFile(data, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) && st.key != "" { // already moved to st.key
		if st.key != key {
			return fmt.Errorf("local: commit appended %s to %s: already committed to %s", id, key, st.key)
		}
		err = syncDirs(s.objects, filepath.Dir(dst))
		if errors.Is(err, fs.ErrNotExist) {
			err = nil // deleted since: nothing to make durable
		}
		if err == nil {
			err = s.syncs.sync(dir)
		}
		if err == nil && !bytes.Equal(st.final, state) {
			st.final = state
			err = s.writeState(dir, st)
		}
		if err != nil {
			return fmt.Errorf("local: commit appended %s to %s: %w", id, key, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("local: commit appended %s to %s: its bytes: %w", id, key, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() < st.n {
		err = fmt.Errorf("its data holds %d bytes, fewer than the %d committed", fi.Size(), st.n)
	}
	if err == nil && fi.Size() > st.n { // left by an append that failed
		err = f.Truncate(st.n)
	}
	if err == nil && (st.key != key || !bytes.Equal(st.final, state)) {
		st.key, st.final = key, state
		err = s.writeState(dir, st)
	} else if err == nil { // recorded by a call cut off: made durable, should that call have failed to
		err = s.syncs.sync(dir)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("local: commit appended %s to %s: %w", id, key, err)
	}
	if err := s.place(f, data, dst); err != nil { // closes f
		return fmt.Errorf("local: commit appended %s to %s: %w", id, key, err)
	}
	if err := s.syncs.sync(dir); err != nil {
		return fmt.Errorf("local: commit appended %s to %s: sync its directory: %w", id, key, err)
	}
	return nil
}

// DeleteAppended implements blob.Appender. The appendable's directory is
// renamed into tmp/ at once, then removed, so that a crash leaves the
// appendable whole or nothing of it but in tmp/; where it holds the
// directories of other ids too, its state is removed, then its data.
func (s *Store) DeleteAppended(_ context.Context, id string) error {
	dir, err := s.appendDir(id)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local: delete appended %s: %w", id, err)
	}
	others := false
	for _, e := range entries {
		others = others || e.IsDir()
	}
	if !others {
		gone := filepath.Join(s.tmp, "append-deleted-"+rand.Text())
		err := os.Rename(dir, gone)
		if err == nil {
			os.RemoveAll(gone)
			prune(s.appends, filepath.Dir(dir))
		}
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) {
			return fmt.Errorf("local: delete appended %s: %w", id, err)
		}
		// Another id's directory was made in it meanwhile: one by one.
	}
	for _, name := range []string{stateName, dataName} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("local: delete appended %s: %w", id, err)
		}
	}
	return nil
}

// ListAppended implements blob.Appender: an appendable is a directory
// holding a state file, whose count is its size and whose time is its
// last commit's.
func (s *Store) ListAppended(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	var found []blob.Info
	err := walkFiles(ctx, s.appends, prefix, func(key string, fi fs.FileInfo) error {
		id := path.Dir(key)
		if fi.Name() != stateName || id == "." || !strings.HasPrefix(id, prefix) {
			return nil
		}
		st, err := readState(filepath.Dir(filepath.Join(s.appends, filepath.FromSlash(key))))
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		found = append(found, blob.Info{Key: id, Size: st.n, ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("local: list appended %s: %w", prefix, err)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Key < found[j].Key })
	for _, a := range found {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}
