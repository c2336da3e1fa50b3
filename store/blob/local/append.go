package local

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/perseus-go/perseus/store/blob"
)

// Appendables (blob.Appender): each is a directory of its own under
// appends/, holding data, the bytes appended so far, and state, the
// number of them committed and the owner's state (appendState). Only the
// state says how many of data's bytes count: an append that failed may
// have left more, which the next Append truncates.
//
// A Commit fsyncs data, then replaces state whole (a temp file, fsynced,
// renamed over it, the directory fsynced: place), so that a crash leaves
// the state of the last Commit that returned nil or of the one under way,
// never a mix, and the bytes it counts are durable either way.
//
// A new id's bytes go to a temp file in tmp/ until its first Commit,
// which puts data and state into a directory in tmp/, fsyncs them, renames
// that directory to the id's and fsyncs its parents: an appendable
// appears whole or not at all, and what a crash leaves in tmp/ goes the
// way of every temp file (Open).

// stateName is the file of an appendable that holds its state.
const stateName = "state"

func (s *Store) appendDir(id string) (string, error) { return under(s.appends, id) }

// Append implements blob.Appender: off must be the count Appended
// reports (0 for a new id), and the bytes from there on are written in
// place, in data (in a temp file for a new id), at most maxWrite bytes at
// a time. Bytes a failed append left past off are cut off first.
func (s *Store) Append(_ context.Context, id string, off, size int64) (blob.AppendWriter, error) {
	dir, err := s.appendDir(id)
	if err != nil {
		return nil, err
	}
	if off < 0 || off > size {
		return nil, fmt.Errorf("local: append to %s at %d: outside an object of %d bytes", id, off, size)
	}
	st, err := readState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if off != 0 {
			return nil, fmt.Errorf("local: append to %s at %d: %w", id, off, blob.ErrNotFound)
		}
		f, err := os.CreateTemp(s.tmp, "append-*")
		if err != nil {
			return nil, fmt.Errorf("local: append to %s: %w", id, err)
		}
		return &appendWriter{s: s, id: id, dir: dir, f: f, size: size, isNew: true, wb: writeback{viaCache: viaCacheFor(size)}}, nil
	}
	if err == nil {
		err = st.open(off)
	}
	var f *os.File
	if err == nil {
		f, err = os.OpenFile(filepath.Join(dir, dataName), os.O_RDWR, 0)
	}
	if err == nil {
		var fi fs.FileInfo
		if fi, err = f.Stat(); err == nil && fi.Size() < off {
			err = fmt.Errorf("its data holds %d bytes, fewer than the %d committed", fi.Size(), off)
		} else if err == nil && fi.Size() > off { // left by an append that failed
			err = f.Truncate(off)
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("local: append to %s at %d: %w", id, off, err)
	}
	return &appendWriter{s: s, id: id, dir: dir, f: f, off: off, size: size, prev: st, wb: writeback{viaCache: viaCacheFor(size - off)}}, nil
}

// open checks that an Append may continue the appendable from off.
func (st appendState) open(off int64) error {
	if st.key != "" {
		return fmt.Errorf("committed to the object %s: no more bytes are taken", st.key)
	}
	if st.n != off {
		return fmt.Errorf("it holds %d bytes, not %d", st.n, off)
	}
	return nil
}

// appendWriter writes the bytes of one append.
type appendWriter struct {
	s     *Store
	id    string
	dir   string   // the appendable's directory
	f     *os.File // its data file; for a new id, a temp file in tmp/
	off   int64    // the bytes committed when it began
	size  int64    // the object's size, which no byte may pass
	isNew bool     // no state yet: Commit creates the appendable
	prev  appendState
	err   error // a Write failed: Commit refuses
	done  bool
	wb    writeback
}

// Write writes b after the bytes written so far, never past the object's
// size. After an error the writer can only be aborted.
func (w *appendWriter) Write(b []byte) (int, error) {
	if w.done {
		return 0, errors.New("local: append writer already finished")
	}
	if w.err != nil {
		return 0, w.err
	}
	if end := w.off + w.wb.n + int64(len(b)); end > w.size {
		w.err = fmt.Errorf("local: append to %s: bytes up to %d, past the object's %d", w.id, end, w.size)
		return 0, w.err
	}
	n, err := w.wb.writeAt(w.f, w.off, b)
	if err != nil {
		w.err = fmt.Errorf("local: append to %s: %w", w.id, err)
	}
	return n, w.err
}

// Commit makes the bytes written and state durable together: it fsyncs
// the data, then replaces the state file (for a new id: makes the
// appendable's directory, whole). Appended reports the previous count and
// state until that replacement, and after any error.
func (w *appendWriter) Commit(ctx context.Context, state []byte) error {
	if w.done {
		return errors.New("local: append writer already finished")
	}
	w.done = true
	st := appendState{n: w.off + w.wb.n, state: state}
	err := cmp.Or(w.err, ctx.Err())
	if err == nil {
		err = w.wb.flush(w.f, w.off)
	}
	w.wb.release()
	switch {
	case err == nil && w.isNew:
		err = w.create(st)
	case err == nil:
		err = w.commit(st)
	case w.isNew:
		os.Remove(w.f.Name())
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("local: commit append to %s: %w", w.id, err)
	}
	return nil
}

// commit commits bytes appended to an existing appendable.
func (w *appendWriter) commit(st appendState) error {
	if err := w.still(); err != nil {
		return err
	}
	if err := w.s.syncFile(w.f); err != nil {
		return err
	}
	err := w.s.writeState(w.dir, st)
	if placed := (placedError{}); errors.As(err, &placed) {
		// The new state is in place but may not survive a crash: the
		// failed Commit must leave the previous one (best effort).
		w.s.writeState(w.dir, w.prev)
	}
	return err
}

// still checks that the appendable is as Append found it: not deleted,
// made again or written to by another meanwhile.
func (w *appendWriter) still() error {
	st, err := readState(w.dir)
	if err != nil {
		return err
	}
	if err := st.open(w.off); err != nil {
		return fmt.Errorf("changed meanwhile: %w", err)
	}
	mine, err := w.f.Stat()
	if err != nil {
		return err
	}
	if now, err := os.Stat(filepath.Join(w.dir, dataName)); err != nil || !os.SameFile(mine, now) {
		return fmt.Errorf("its data file was replaced meanwhile: %w", cmp.Or(err, blob.ErrNotFound))
	}
	return nil
}

// create makes a new appendable of the temp file written and st: data
// and state go into a new directory in tmp/, made durable there, which is
// renamed to the id's; then the parents of that are fsynced, up to the
// store's root (for the entry of appends/ itself). Whatever fails, nothing
// is left but in tmp/.
func (w *appendWriter) create(st appendState) (err error) {
	s := w.s
	if err := s.syncFile(w.f); err != nil {
		os.Remove(w.f.Name())
		return err
	}
	tmp, err := os.MkdirTemp(s.tmp, "append-new-*")
	if err == nil {
		if err = os.Rename(w.f.Name(), filepath.Join(tmp, dataName)); err != nil {
			os.Remove(tmp)
		}
	}
	if err != nil {
		os.Remove(w.f.Name())
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := s.writeState(tmp, st); err != nil { // fsyncs tmp: both entries are durable in it
		return err
	}
	whole, err := s.moveIn(tmp, w.dir)
	if err != nil || !whole {
		os.Remove(tmp) // empty, if data and state went into w.dir one by one
		return err
	}
	if err := syncDirs(filepath.Dir(s.appends), filepath.Dir(w.dir)); err != nil {
		os.Rename(w.dir, tmp) // perhaps not durable: taken back, to leave no appendable (best effort)
		return err
	}
	return nil
}

// moveIn renames the directory from, holding a new appendable's data and
// state, to dir, making dir's parents (again, if a DeleteAppended
// tidying up took them meanwhile), and reports that it did so whole.
//
// Where dir is there and not empty (it holds the appendables of ids below
// it, whose creation made its entries durable), data and state are moved
// into it instead, data first, and dir is fsynced: a crash between the
// two leaves bytes that no state counts, which the id's next creation
// replaces, or DeleteAppended removes.
func (s *Store) moveIn(from, dir string) (whole bool, err error) {
	for try := 0; try < 3; try++ {
		if err = os.MkdirAll(filepath.Dir(dir), 0o700); err == nil {
			err = os.Rename(from, dir)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err == nil || !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) {
		return err == nil, err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return false, fmt.Errorf("%s is in the way: %w", dir, cmp.Or(err, fs.ErrExist))
	}
	for _, name := range []string{dataName, stateName} {
		if err := os.Rename(filepath.Join(from, name), filepath.Join(dir, name)); err != nil {
			return false, err
		}
	}
	if err := s.syncs.sync(dir); err != nil {
		os.Remove(filepath.Join(dir, stateName)) // perhaps not durable: no appendable (best effort)
		return false, err
	}
	return false, nil
}

// Abort discards the bytes written: a new id's temp file is removed; an
// existing appendable's data is cut back to its committed bytes, if it is
// still the appendable's.
func (w *appendWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.wb.release()
	if w.isNew {
		w.f.Close()
		return os.Remove(w.f.Name())
	}
	if w.wb.n > 0 && w.still() == nil {
		w.f.Truncate(w.off)
	}
	return w.f.Close()
}

// appendState is the content of an appendable's state file: a header
// line "perseus-append 1 <n> <key, quoted> <len(state)>", then state,
// then final.
type appendState struct {
	n     int64  // the bytes committed
	state []byte // the owner's state committed with them
	// key is where CommitAppended moves the bytes ("" before it began).
	// Until they are gone from data, state is still the state; once they
	// are, final is (CommitAppended records both before moving them).
	key   string
	final []byte
}

const stateMagic = "perseus-append 1"

func (st appendState) encode() []byte {
	b := fmt.Appendf(nil, "%s %d %s %d\n", stateMagic, st.n, strconv.Quote(st.key), len(st.state))
	return append(append(b, st.state...), st.final...)
}

func parseState(b []byte) (appendState, error) {
	var st appendState
	bad := func(why string) (appendState, error) {
		return appendState{}, fmt.Errorf("malformed state file: %s", why)
	}
	line, body, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return bad("no header")
	}
	rest, ok := strings.CutPrefix(string(line), stateMagic+" ")
	if !ok {
		return bad("not " + stateMagic)
	}
	num, rest, _ := strings.Cut(rest, " ")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return bad("count " + strconv.Quote(num))
	}
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return bad("key")
	}
	key, _ := strconv.Unquote(q)
	l, err := strconv.Atoi(strings.TrimPrefix(rest[len(q):], " "))
	if err != nil || l < 0 || l > len(body) {
		return bad("state length")
	}
	st.n, st.key, st.state, st.final = n, key, body[:l:l], body[l:]
	return st, nil
}

// readState reads the state file of the appendable in dir; an error
// wraps fs.ErrNotExist when there is none.
func readState(dir string) (appendState, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateName))
	if err != nil {
		return appendState{}, err
	}
	return parseState(b)
}

// writeState replaces the state file of the appendable in dir with st,
// durably: a temp file, fsynced, renamed over it, dir fsynced (place; dir
// is outside objects/, so place makes no directories: dir must be there).
// A placedError means that the new state is in place but perhaps not
// durable.
func (s *Store) writeState(dir string, st appendState) error {
	f, err := os.CreateTemp(s.tmp, "append-state-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(st.encode()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	err = s.place(f, f.Name(), filepath.Join(dir, stateName))
	if placed := (placedError{}); err != nil && !errors.As(err, &placed) {
		os.Remove(f.Name())
	}
	return err
}
