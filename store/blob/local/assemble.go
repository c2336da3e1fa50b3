package local

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/perseus-go/perseus/internal/sha256chain"
	"github.com/perseus-go/perseus/store/blob"
)

// dataName is the file of an assembly that holds its bytes.
const dataName = "data"

// markerName is the marker of part p: "<nnnnn>-<size>-<sha256>", or
// "<nnnnn>-<size>-<from>-<sha256>" for a chained part.
func markerName(p blob.Part) string {
	if p.From != "" {
		return fmt.Sprintf("%05d-%d-%s-%s", p.Number, p.Size, p.From, p.SHA256)
	}
	return fmt.Sprintf("%05d-%d-%s", p.Number, p.Size, p.SHA256)
}

// parseMarker reads a marker's name; ok is false for any other file.
func parseMarker(name string) (p blob.Part, ok bool) {
	f := strings.Split(name, "-")
	if len(f) == 4 {
		if !sha256chain.Valid(f[2]) {
			return p, false
		}
		p.From, f = f[2], []string{f[0], f[1], f[3]}
	}
	if len(f) != 3 || len(f[2]) != 64 {
		return p, false
	}
	n, err1 := strconv.Atoi(f[0])
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if _, err := hex.DecodeString(f[2]); err != nil || err1 != nil || err2 != nil || n < 1 || size < 0 {
		return p, false
	}
	p.Number, p.Size, p.SHA256, p.ETag = n, size, f[2], `"`+f[2]+`"`
	return p, true
}

func (s *Store) assemblyDir(id string) (string, error) { return under(s.assemblies, id) }

// An assembly is sealed (HashAssembly) by making its data file read-only:
// a mark on the file itself, which stays with it even if the assembly is
// deleted and made again meanwhile, so that a writer that opened it before
// sees it, under the lock, however the names changed.

// errSealed refuses parts of an assembly being completed.
var errSealed = errors.New("the assembly is sealed: it is being completed")

// sealed reports whether f, the data file of an assembly, is sealed.
func sealed(f *os.File) (bool, error) {
	fi, err := f.Stat()
	return err == nil && fi.Mode().Perm()&0o200 == 0, err
}

// CreatePart implements blob.Assembler: the bytes go straight into the
// assembly's data file at off, hashed on the way, and the part's marker is
// made only once they are durable and match p. The writer holds a shared
// lock on the data file from start to end, so that HashAssembly, which
// takes it exclusively, knows when no part is being written, in this
// process or another sharing the directory.
func (s *Store) CreatePart(ctx context.Context, id string, size, off int64, p blob.Part) (blob.Writer, error) {
	dir, err := s.assemblyDir(id)
	if err != nil {
		return nil, err
	}
	if _, herr := hex.DecodeString(p.SHA256); herr != nil || len(p.SHA256) != 64 || p.Number < 1 ||
		p.Size < 0 || off < 0 || off+p.Size > size {
		return nil, fmt.Errorf("local: part %d of %s: %d bytes at %d with sha256 %q do not fit an object of %d bytes",
			p.Number, id, p.Size, off, p.SHA256, size)
	}
	h := sha256.New()
	if p.From != "" { // chained: the check continues the object's hash from p.From
		end := off + p.Size
		if !sha256chain.Valid(p.From) || (end < size && end%sha256chain.BlockSize != 0) {
			return nil, fmt.Errorf("local: chained part %d of %s: from %q, ending at %d of %d: not a chaining value at a block boundary",
				p.Number, id, p.From, end, size)
		}
		if h, err = sha256chain.Resume(p.From, off); err != nil {
			return nil, fmt.Errorf("local: chained part %d of %s at %d: %w", p.Number, id, off, err)
		}
	}
	f, err := s.openData(dir, size)
	if err == nil {
		err = lockShared(f)
	}
	if err == nil {
		if sl, serr := sealed(f); serr != nil || sl {
			err = cmp.Or(serr, errSealed)
		}
	}
	var lock *os.File
	if err == nil {
		lock, err = os.OpenFile(filepath.Join(dir, fmt.Sprintf("lock-%05d", p.Number)), os.O_RDWR|os.O_CREATE, 0o600)
	}
	// A chained part's check can stand for its region's bytes only if no
	// other writer touched the region while this one wrote it: such a
	// writer takes the part's lock exclusively, if it can, and holds it to
	// the end (writers of the part in any process wait meanwhile, as long
	// as their context lasts).
	excl := false
	if err == nil {
		if excl = p.From != "" && alone(lock); !excl {
			err = lockSharedWait(ctx, lock)
		}
	}
	if err == nil {
		// The region is about to change: whatever part n was, it is no longer.
		err = unlist(dir, p.Number, true)
	}
	if err != nil {
		for _, c := range []*os.File{f, lock} {
			if c != nil {
				c.Close()
			}
		}
		return nil, fmt.Errorf("local: part %d of %s: %w", p.Number, id, err)
	}
	l := s.liveOf(dir)
	gen, first := l.begin(off)
	return &partWriter{f: f, lock: lock, dir: dir, syncs: s.syncs, live: l, off: off, last: off+p.Size == size, p: p, h: h,
		gen: gen, excl: excl && first, wb: writeback{viaCache: viaCacheFor(p.Size)}}, nil
}

// openData opens the data file of the assembly in dir, creating it size
// bytes long (sparse: only the bytes written take space), and its
// directories durably, if it is new.
func (s *Store) openData(dir string, size int64) (*os.File, error) {
	name := filepath.Join(dir, dataName)
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrPermission) { // read-only: sealed
		return nil, errSealed
	}
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			if err = preallocate(f, size); err == nil {
				err = syncDirs(s.assemblies, dir) // so that the assembly outlives a crash
			}
			if err != nil {
				f.Close()
				return nil, err
			}
			return f, nil
		}
		if errors.Is(err, fs.ErrExist) { // another part created it just now
			if f, err = os.OpenFile(name, os.O_RDWR, 0); errors.Is(err, fs.ErrPermission) {
				return nil, errSealed
			}
		}
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() > size {
		err = fmt.Errorf("the assembly holds %d bytes, not %d", fi.Size(), size)
	}
	if err == nil && fi.Size() < size { // its creator has not sized it yet
		err = preallocate(f, size)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// syncDirs fsyncs dir and each of its parents up to root.
func syncDirs(root, dir string) error {
	for {
		if err := syncDir(dir); err != nil {
			return err
		}
		if dir == root || !strings.HasPrefix(dir, root) {
			return nil
		}
		dir = filepath.Dir(dir)
	}
}

// unlist removes the markers of part n from dir, durably if sync.
func unlist(dir string, n int, sync bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	removed := false
	for _, e := range entries {
		if p, ok := parseMarker(e.Name()); ok && p.Number == n {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			removed = true
		}
	}
	if removed && sync {
		return syncDir(dir)
	}
	return nil
}

// partWriter writes one part into an assembly's data file.
type partWriter struct {
	f     *os.File // holding a shared lock until Commit or Abort
	lock  *os.File // the part's lock file, held shared likewise
	dir   string
	syncs *syncGroup // for dir, shared with the other parts being committed
	live  *live
	off   int64 // where the part begins
	last  bool  // the part ends the object
	gen   int   // live.gen of the part when this writer began
	excl  bool  // chained, and no other writer of the part was at work when it began (see CreatePart)
	n     int64 // bytes written so far
	p     blob.Part
	h     hash.Hash
	done  bool
	wb    writeback
}

// Write writes b after the bytes written so far, never past the part's end.
func (w *partWriter) Write(b []byte) (int, error) {
	if w.done {
		return 0, errors.New("local: part writer already finished")
	}
	if w.n+int64(len(b)) > w.p.Size {
		return 0, fmt.Errorf("local: part %d: more than its %d bytes: %w", w.p.Number, w.p.Size, blob.ErrPartMismatch)
	}
	n, err := w.wb.writeAt(w.f, w.off, b)
	w.h.Write(b[:n])
	w.n += int64(n)
	return n, err
}

// Commit lists the part if its bytes match: fsync the data, then replace
// any marker of the part with its own (holding a token of this write, see
// HashAssembly) and fsync the directory.
func (w *partWriter) Commit(context.Context) error {
	if w.done {
		return errors.New("local: part writer already finished")
	}
	w.done = true
	defer w.f.Close()
	defer w.lock.Close()
	defer w.wb.release()
	if got := w.check(); w.n != w.p.Size || got != w.p.SHA256 {
		w.wb.flush(w.f, w.off) // what was written is in the file, as it was before the stage
		w.fail()
		return fmt.Errorf("local: part %d: %d bytes hashing to %s, not %d hashing to %s: %w",
			w.p.Number, w.n, got, w.p.Size, w.p.SHA256, blob.ErrPartMismatch)
	}
	m := marker{path: filepath.Join(w.dir, markerName(w.p)), token: rand.Text()}
	err := w.wb.flush(w.f, w.off)
	if err == nil {
		err = w.f.Sync()
	}
	if err == nil {
		err = w.still()
	}
	if err == nil {
		err = unlist(w.dir, w.p.Number, false)
	}
	if err == nil {
		err = os.WriteFile(m.path, []byte(m.token), 0o600)
	}
	if err == nil {
		err = w.syncs.sync(w.dir)
	}
	if err != nil {
		w.fail()
		return fmt.Errorf("local: commit part %d: %w", w.p.Number, err)
	}
	// The hash of the whole may take the part from memory only if no other
	// writer of it, in any process, is still at work: one that began before
	// this marker was made could still change the bytes without removing it.
	if alone(w.lock) {
		w.live.end(w.off, w.segment(m))
	} else {
		w.live.end(w.off, segment{end: w.off + w.p.Size})
	}
	return nil
}

// segment is the part as committed under marker m. Its chaining values
// come along only if this writer had the region to itself from CreatePart
// to now (excl, and no writer of the part began here since): otherwise
// another writer may have left bytes in it that this one's check never
// saw, and only a read tells what the region holds.
func (w *partWriter) segment(m marker) segment {
	seg := segment{end: w.off + w.p.Size, marker: m}
	if w.p.From != "" && w.excl && w.live.unchanged(w.off, w.gen) {
		seg.from, seg.to, seg.last = w.p.From, w.p.SHA256, w.last
	}
	return seg
}

// check is what the bytes written hash to: their SHA-256, or for a chained
// part that does not end the object, the chaining value after them.
func (w *partWriter) check() string {
	if w.p.From != "" && !w.last {
		v, _ := sha256chain.Value(w.h) // at a block: CreatePart checked the part's end
		return v
	}
	return hex.EncodeToString(w.h.Sum(nil))
}

// still checks that the writer's file is still its assembly's data file:
// the assembly was not deleted (and made again) meanwhile.
func (w *partWriter) still() error {
	mine, err := w.f.Stat()
	if err != nil {
		return err
	}
	now, err := os.Stat(filepath.Join(w.dir, dataName))
	if err != nil || !os.SameFile(mine, now) {
		return fmt.Errorf("the assembly is gone: %w", blob.ErrNotFound)
	}
	return nil
}

// Abort leaves the part unlisted; its region may hold anything.
func (w *partWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.wb.flush(w.f, w.off) // what was written is in the file, as it was before the stage
	w.fail()
	w.lock.Close()
	return w.f.Close()
}

// fail unlists the part if this writer wrote to its region: a writer of
// the same part may have committed meanwhile, and its marker would lie.
func (w *partWriter) fail() {
	if w.n > 0 {
		unlist(w.dir, w.p.Number, true)
	}
	w.live.end(w.off, segment{end: w.off + w.p.Size})
}
