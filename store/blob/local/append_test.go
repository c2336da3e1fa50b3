package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/blob"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testSize is the size of the objects appended to.
const testSize = 8 << 20

// appendBytes appends b to id at off and commits it with state.
func appendBytes(t *testing.T, s *Store, id string, off int64, b []byte, state string) {
	t.Helper()
	w, err := s.Append(t.Context(), id, off, testSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(t.Context(), []byte(state)); err != nil {
		t.Fatal(err)
	}
}

func wantAppended(t *testing.T, s *Store, id string, n int64, state string) {
	t.Helper()
	gn, gs, err := s.Appended(t.Context(), id)
	if err != nil || gn != n || string(gs) != state {
		t.Fatalf("Appended(%s) = %d, %q, %v; want %d, %q", id, gn, gs, err, n, state)
	}
}

// entries lists the files and directories under dir, slash-separated.
func entries(dir string) []string {
	var got []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if rel, _ := filepath.Rel(dir, p); err == nil && rel != "." {
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	return got
}

// A process that dies between writing bytes and committing them (its
// writer neither committed nor aborted) leaves the last commit: after
// a restart Appended reports it, and the next append writes over the
// bytes that were cut off.
func TestAppendCutOffLeavesTheLastCommit(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	good := bytes.Repeat([]byte("g"), 120)
	appendBytes(t, s, "up/a", 0, good[:100], "s1")
	cut, err := s.Append(t.Context(), "up/a", 100, testSize)
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Abort()
	if _, err := cut.Write(bytes.Repeat([]byte("junk"), 300<<10)); err != nil { // > maxWrite, in pieces
		t.Fatal(err)
	}

	again := openStore(t, dir) // the restart
	wantAppended(t, again, "up/a", 100, "s1")
	var listed []blob.Info
	again.ListAppended(t.Context(), "up/", func(i blob.Info) error { listed = append(listed, i); return nil })
	if len(listed) != 1 || listed[0].Key != "up/a" || listed[0].Size != 100 {
		t.Fatalf("ListAppended = %+v, want up/a of 100 bytes", listed)
	}
	appendBytes(t, again, "up/a", 100, good[100:], "s2")
	if err := again.CommitAppended(t.Context(), "up/a", "obj/a", []byte("done")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "objects", "obj", "a")); err != nil || !bytes.Equal(b, good) {
		t.Fatalf("the object holds %d bytes (%v), want the %d appended and committed", len(b), err, len(good))
	}
	wantAppended(t, again, "up/a", 120, "done")
}

// A new id's first append cut off leaves no appendable, and nothing
// under appends/: its bytes are a temp file, which Open removes once stale.
func TestAppendNewIDCutOffLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	cut, err := s.Append(t.Context(), "up/new", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	cut.Write([]byte("half of it"))
	if _, _, err := s.Appended(t.Context(), "up/new"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Appended of an id never committed: err = %v, want ErrNotFound", err)
	}
	if got := entries(s.appends); len(got) != 0 {
		t.Fatalf("appends/ holds %v before any commit", got)
	}
	past := time.Now().Add(-2 * time.Hour)
	for _, e := range entries(s.tmp) {
		os.Chtimes(filepath.Join(s.tmp, e), past, past)
	}
	openStore(t, dir)
	if got := entries(s.tmp); len(got) != 0 {
		t.Fatalf("tmp/ holds %v after Open", got)
	}
	cut.Abort()
}

// failing makes the store's file syncs fail for the files whose name
// matches, and its directory syncs for the directories that do.
func failing(s *Store, file, dir func(string) bool) {
	s.syncFile = func(f *os.File) error {
		if file(f.Name()) {
			return errors.New("injected file sync failure")
		}
		return f.Sync()
	}
	s.syncs.fsync = func(d string) error {
		if dir(d) {
			return errors.New("injected directory sync failure")
		}
		return syncDir(d)
	}
}

func never(string) bool { return false }

// A Commit that fails at any step leaves the last one, and the next
// append continues from it.
func TestAppendCommitFailuresLeaveTheLastCommit(t *testing.T) {
	s := openStore(t, t.TempDir())
	appendBytes(t, s, "up/f", 0, []byte("0123"), "s1")
	idDir := filepath.Join(s.appends, "up", "f")
	for _, tc := range []struct {
		name      string
		file, dir func(string) bool
	}{
		{"data", func(n string) bool { return filepath.Base(n) == dataName }, never},
		{"state", func(n string) bool { return strings.Contains(n, "append-state-") }, never},
		{"directory after the state's rename", never, func(d string) bool { return d == idDir }},
	} {
		failing(s, tc.file, tc.dir)
		w, err := s.Append(t.Context(), "up/f", 4, 100)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("lost"))
		if err := w.Commit(t.Context(), []byte("s-lost")); err == nil {
			t.Fatalf("%s: Commit succeeded despite a failed sync", tc.name)
		}
		failing(s, never, never)
		wantAppended(t, s, "up/f", 4, "s1")
	}
	appendBytes(t, s, "up/f", 4, []byte("4567"), "s2")
	wantAppended(t, s, "up/f", 8, "s2")

	// A new id whose first commit fails is not there.
	failing(s, never, func(d string) bool { return strings.Contains(d, "append-new-") })
	w, err := s.Append(t.Context(), "up/g", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	if err := w.Commit(t.Context(), []byte("g")); err == nil {
		t.Fatal("the first Commit of a new id succeeded despite a failed sync")
	}
	if _, _, err := s.Appended(t.Context(), "up/g"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Appended of a new id whose first commit failed: err = %v, want ErrNotFound", err)
	}
	if got := entries(s.tmp); len(got) != 0 {
		t.Fatalf("tmp/ holds %v after the failed commit", got)
	}
}

// A CommitAppended that fails before the bytes moved leaves the old state
// and can be done again, to any key; one that fails after they moved
// reports the new state, and can be done again to the same key only.
func TestCommitAppendedFailures(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	appendBytes(t, s, "up/c", 0, []byte("whole"), "s1")

	failing(s, func(n string) bool { return filepath.Base(n) == dataName }, never)
	if err := s.CommitAppended(ctx, "up/c", "obj/first", []byte("done")); err == nil {
		t.Fatal("CommitAppended succeeded despite a failed sync of the bytes")
	}
	wantAppended(t, s, "up/c", 5, "s1")
	if _, err := s.Stat(ctx, "obj/first"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat of the key of a failed CommitAppended: err = %v", err)
	}

	objDir := filepath.Join(s.objects, "obj")
	failing(s, never, func(d string) bool { return d == objDir })
	if err := s.CommitAppended(ctx, "up/c", "obj/second", []byte("done")); err == nil {
		t.Fatal("CommitAppended succeeded despite a failed sync of the object's directory")
	}
	failing(s, never, never)
	wantAppended(t, s, "up/c", 5, "done")
	if err := s.CommitAppended(ctx, "up/c", "obj/third", []byte("done")); err == nil {
		t.Fatal("CommitAppended to another key than the bytes went to succeeded")
	}
	if err := s.CommitAppended(ctx, "up/c", "obj/second", []byte("done again")); err != nil {
		t.Fatal(err)
	}
	wantAppended(t, s, "up/c", 5, "done again")
	if b, err := os.ReadFile(filepath.Join(objDir, "second")); err != nil || string(b) != "whole" {
		t.Fatalf("obj/second = %q, %v", b, err)
	}
	if _, err := s.Append(ctx, "up/c", 5, 10); err == nil {
		t.Fatal("Append after CommitAppended succeeded")
	}
}

// A Commit returns once its bytes and the entries of its state are
// durable; CommitAppended once its object is, as a Commit of it.
func TestAppendCommitsAreDurable(t *testing.T) {
	s := openStore(t, t.TempDir())
	l := newSyncLog(s)
	appendBytes(t, s, "up/d", 0, []byte("abc"), "s1")
	made := false // the directory made in tmp/, renamed whole to the id's
	for d := range l.durable {
		made = made || strings.HasPrefix(d, s.tmp) && l.holds(d, stateName) && l.holds(d, dataName)
	}
	if !made {
		t.Errorf("the first Commit returned before its entries were durable: %v", l.durable)
	}
	appendBytes(t, s, "up/d", 3, []byte("def"), "s2")
	idDir := filepath.Join(s.appends, "up", "d")
	if !l.holds(idDir, stateName) {
		t.Errorf("Commit returned before its state's entry was durable: %v", l.durable[idDir])
	}
	fi, err := os.Stat(filepath.Join(idDir, dataName))
	if err != nil || !l.synced(fi) {
		t.Errorf("Commit returned before its bytes were synced (%v)", err)
	}
	if err := s.CommitAppended(t.Context(), "up/d", "obj/d", nil); err != nil {
		t.Fatal(err)
	}
	checkDurable(t, s, l, "obj/d")
	if len(l.early) > 0 {
		t.Errorf("files synced after their rename: %v", l.early)
	}
}

// Appendables may lie below one another's ids, made in either order, and
// deleting one leaves the others.
func TestAppendablesBelowOneAnother(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, id := range []string{"n/x/y", "n/x", "n/x/z"} {
		appendBytes(t, s, id, 0, []byte(id), "st "+id)
	}
	var ids []string
	s.ListAppended(t.Context(), "n/x", func(i blob.Info) error { ids = append(ids, i.Key); return nil })
	if strings.Join(ids, " ") != "n/x n/x/y n/x/z" {
		t.Fatalf("ListAppended(n/x) = %v", ids)
	}
	if err := s.DeleteAppended(t.Context(), "n/x"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Appended(t.Context(), "n/x"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Appended after DeleteAppended: err = %v", err)
	}
	wantAppended(t, s, "n/x/y", 5, "st n/x/y")
	for _, id := range []string{"n/x/y", "n/x/z"} {
		if err := s.DeleteAppended(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	if got := entries(s.appends); len(got) != 0 {
		t.Fatalf("appends/ holds %v after every appendable was deleted", got)
	}
}
