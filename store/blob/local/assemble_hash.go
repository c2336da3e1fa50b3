package local

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/perseus-go/perseus/internal/sha256chain"
)

// Hashing an assembly as its parts land.
//
// HashAssembly must return the SHA-256 of exactly the bytes that
// CommitAssembly will make the object. Reading them all once the last
// part is in would put a full pass over the object after the upload;
// instead a goroutine per assembly hashes its prefix while parts are still
// arriving: whenever the part that starts where the hash stops has been
// committed by this process, and no writer of it is open here, it reads
// that part back (from the page cache, just written) and extends the hash,
// keeping the hash's state at every part boundary. A part begun again, or
// aborted, within the hashed prefix rewinds the hash to the boundary
// before it, and a part begun while being read is read again.
//
// Other processes may share the directory, and write parts too: they
// cannot tell this one. So HashAssembly first seals the assembly (its data
// file made read-only: CreatePart refuses from then on) and waits, by taking the
// data file's lock exclusively, until no part is being written anywhere.
// Then it checks every part of the prefix against the disk: each was
// hashed right after this process committed it, with a marker holding a
// token of that write; every later writer of the part, in any process,
// removed that marker before writing (CreatePart) or when it failed, or
// replaced it with its own; and a part committed while another writer of
// it was at work anywhere (each holds the part's lock file shared) is
// never taken into the prefix. A part whose marker no longer holds the
// token rewinds the hash to the boundary before it. Only then is the rest
// of the file read and hashed.
//
// A chained part (blob.Part.From) spares even the read: its writer
// checked it by continuing the object's hash from the chaining value it
// was declared to start at, so when that value is the prefix's own, the
// value it ended at is the prefix's next state, taken under the same
// conditions as a read back; and a chained last part ends the prefix with
// the SHA-256 of the whole. A part declared to start from any other value
// proves nothing about the whole and is read back like any other.
//
// All this is memory of one process: after a restart the hash starts over,
// from the start of the file.

// errBusy says that parts are still being written after lockWait.
var errBusy = errors.New("parts of the assembly are still being written")

// lockWait is how long HashAssembly waits for writers of parts to end.
var lockWait = 10 * time.Second

// marker is a part's marker as a commit of this process left it.
type marker struct {
	path  string
	token string
}

// intact reports whether the marker still holds this process's token.
func (m marker) intact() bool {
	b, err := os.ReadFile(m.path)
	return err == nil && string(b) == m.token
}

// live is what this process knows of one assembly.
type live struct {
	mu      sync.Mutex
	data    string            // the data file
	gone    bool              // committed or deleted
	hashed  os.FileInfo       // the data file HashAssembly hashed, sealed
	h       hash.Hash         // SHA-256 of [0, off)
	off     int64             // where the hashed prefix ends
	sum     string            // the SHA-256 of the whole, once a chained last part ended the prefix
	ckpts   []checkpoint      // the hash's state at each boundary of the prefix, from 0
	done    map[int64]segment // parts committed here that no writer here touched since, by start
	open    map[int64]int     // writers open here, by part start
	gen     map[int64]int     // writers begun here, by part start
	stop    bool              // HashAssembly wants the goroutine to end
	stopped chan struct{}     // closed when the goroutine ends; nil when none runs
}

// segment is a committed part: where it ends and its marker (zero when the
// part was not committed) and, for a chained part, the chaining values its
// check began and ended at (to is the SHA-256 of the whole when last).
type segment struct {
	end      int64
	marker   marker
	from, to string
	last     bool
}

// checkpoint is the hash's state at off, the end of the part of marker.
type checkpoint struct {
	off    int64
	state  []byte
	marker marker // zero for the checkpoint at 0
}

func newLive(data string) *live {
	l := &live{data: data, h: sha256.New(), done: map[int64]segment{}, open: map[int64]int{}, gen: map[int64]int{}}
	l.ckpts = []checkpoint{{off: 0, state: l.marshal(l.h)}}
	return l
}

func (l *live) marshal(h hash.Hash) []byte {
	b, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
	return b
}

// rewind drops the hashed prefix back to the last boundary at or before off.
func (l *live) rewind(off int64) {
	if off >= l.off {
		return
	}
	i := len(l.ckpts) - 1
	for l.ckpts[i].off > off {
		i--
	}
	l.ckpts = l.ckpts[:i+1]
	l.sum = ""
	l.h = sha256.New()
	l.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(l.ckpts[i].state)
	l.off = l.ckpts[i].off
}

// liveOf returns what this process knows of the assembly in dir.
func (s *Store) liveOf(dir string) *live {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.live[dir]
	if l == nil {
		l = newLive(filepath.Join(dir, dataName))
		s.live[dir] = l
	}
	return l
}

// forget drops what this process knows of an assembly that is gone.
func (s *Store) forget(dir string) {
	s.mu.Lock()
	if l := s.live[dir]; l != nil {
		l.mu.Lock()
		l.gone = true
		l.mu.Unlock()
	}
	delete(s.live, dir)
	s.mu.Unlock()
}

// begin records a writer of the part at [off, …): its bytes are about to
// change. It returns the part's new generation, and whether no other
// writer of it is at work here.
func (l *live) begin(off int64) (gen int, first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first = l.open[off] == 0
	l.open[off]++
	l.gen[off]++
	delete(l.done, off)
	l.rewind(off)
	return l.gen[off], first
}

// unchanged reports whether no writer of the part at off began here since
// the one that began at generation gen.
func (l *live) unchanged(off int64, gen int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gen[off] == gen
}

// end records the end of a writer of the part at [off, seg.end):
// committed, with its marker (the part holds its declared bytes), or not
// (no marker: it may hold anything).
func (l *live) end(off int64, seg segment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open[off]--
	if seg.marker.path == "" {
		delete(l.done, off)
		l.rewind(off)
		return
	}
	if l.open[off] == 0 {
		l.done[off] = seg
	}
	if _, next := l.done[l.off]; next && l.stopped == nil && !l.stop && !l.gone {
		l.stopped = make(chan struct{})
		go l.advance(l.stopped)
	}
}

// advance extends the hashed prefix part by part while the next part is done.
func (l *live) advance(stopped chan struct{}) {
	defer close(stopped)
	f, err := os.Open(l.data)
	if err == nil {
		defer f.Close()
	}
	buf := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(buf)
	for {
		l.mu.Lock()
		start := l.off
		seg, ok := l.done[start]
		if err != nil || !ok || l.stop || l.gone {
			l.stopped = nil
			l.mu.Unlock()
			return
		}
		if l.chain(seg) {
			l.mu.Unlock()
			continue
		}
		gen, h := l.gen[start], sha256.New()
		h.(encoding.BinaryUnmarshaler).UnmarshalBinary(l.marshal(l.h))
		l.mu.Unlock()

		_, err = io.CopyBuffer(h, io.NewSectionReader(f, start, seg.end-start), *buf)

		l.mu.Lock()
		if err == nil && l.off == start && l.gen[start] == gen && l.done[start] == seg {
			l.h, l.off = h, seg.end
			l.ckpts = append(l.ckpts, checkpoint{seg.end, l.marshal(h), seg.marker})
		}
		l.mu.Unlock()
	}
}

// chain extends the hashed prefix over seg without reading it, if seg is a
// chained part whose check continued from exactly the prefix's chaining
// value: that check hashed these very bytes (the same conditions as a read
// back make them still there: a marker of this process, no other writer)
// from where the prefix stands, so its result is the prefix's next state.
// Called with l.mu held.
func (l *live) chain(seg segment) bool {
	if seg.from == "" {
		return false
	}
	if v, err := sha256chain.Value(l.h); err != nil || v != seg.from {
		return false
	}
	if seg.last {
		l.sum = seg.to
		l.off = seg.end
		l.ckpts = append(l.ckpts, checkpoint{seg.end, nil, seg.marker})
		return true
	}
	h, err := sha256chain.Resume(seg.to, seg.end)
	if err != nil {
		return false
	}
	l.h, l.off = h, seg.end
	l.ckpts = append(l.ckpts, checkpoint{seg.end, l.marshal(h), seg.marker})
	return true
}

var hashBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// HashAssembly implements blob.Assembler: it seals the assembly, waits
// for writers of parts (here or in another process) to end and for the
// hashing goroutine to finish its part, checks the hashed prefix against
// the markers, then hashes what is left of the file.
func (s *Store) HashAssembly(_ context.Context, id string) (string, int64, error) {
	dir, err := s.assemblyDir(id)
	if err != nil {
		return "", 0, err
	}
	f, err := os.Open(filepath.Join(dir, dataName))
	if err != nil {
		return "", 0, mapErr(id, err)
	}
	defer f.Close()
	if err := f.Chmod(0o400); err != nil { // sealed: see sealed
		return "", 0, fmt.Errorf("local: seal assembly %s: %w", id, err)
	}
	err = lockExclusive(f, lockWait)
	fi, serr := f.Stat()
	if err == nil {
		err = serr
	}
	if err != nil {
		return "", 0, fmt.Errorf("local: hash assembly %s: %w", id, err)
	}

	l := s.liveOf(dir)
	l.mu.Lock()
	l.stop = true
	stopped := l.stopped
	l.mu.Unlock()
	if stopped != nil {
		<-stopped
	}
	l.mu.Lock()
	for i := 1; i < len(l.ckpts); i++ {
		if !l.ckpts[i].marker.intact() {
			l.rewind(l.ckpts[i-1].off)
			break
		}
	}
	if l.sum != "" && l.off != fi.Size() { // the file is not the size the chain ended at
		l.rewind(l.off - 1)
	}
	if l.sum != "" { // chained parts, each checked, are the whole
		sum := l.sum
		l.hashed = fi
		l.mu.Unlock()
		return sum, fi.Size(), nil
	}
	h, off := sha256.New(), l.off
	h.(encoding.BinaryUnmarshaler).UnmarshalBinary(l.marshal(l.h))
	l.mu.Unlock()
	if off > fi.Size() {
		return "", 0, fmt.Errorf("local: hash assembly %s: the file is shorter than what was hashed", id)
	}
	buf := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(buf)
	if _, err := io.CopyBuffer(h, io.NewSectionReader(f, off, fi.Size()-off), *buf); err != nil {
		return "", 0, fmt.Errorf("local: hash assembly %s: %w", id, err)
	}
	l.mu.Lock()
	l.hashed = fi // CommitAssembly commits this very file, or nothing
	l.mu.Unlock()
	return hex.EncodeToString(h.Sum(nil)), fi.Size(), nil
}
