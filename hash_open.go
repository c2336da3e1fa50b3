package perseus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	"github.com/perseus-go/perseus/internal/sha256chain"
)

// openDigest is a digest computed while the file's parts are sent (an open
// upload, upload_open.go): run fills in each part's reference and then
// closes its ready channel, and sets the whole's hash (sum) and then closes
// whole, so that a reader that waited on the channel reads what was set.
// d is copied by readers while run fills it, so run writes only the
// elements of its slices, never a field of d itself.
type openDigest struct {
	d       digest // d.hash stays empty: see digest()
	chained bool
	ready   []chan struct{} // per part: its reference is set
	whole   chan struct{}   // sum is set, or err
	sum     string          // the whole file's hex SHA-256
	err     error           // set before whole is closed
}

// digest returns the whole digest, once run has ended without an error.
func (o *openDigest) digest() digest {
	<-o.whole
	d := o.d
	d.hash = o.sum
	return d
}

// newOpenDigest returns the digest to come of a file of size bytes in
// parts of partSize, chained (the server checks each part as a piece of
// the whole) or each named by its own SHA-256.
func newOpenDigest(size, partSize int64, chained bool) *openDigest {
	count := int((size + partSize - 1) / partSize)
	o := &openDigest{d: digest{size: size, partSize: partSize, parts: make([]string, count)},
		chained: chained, ready: make([]chan struct{}, count), whole: make(chan struct{})}
	if chained {
		o.d.from = make([]string, count)
	}
	for i := range o.ready {
		o.ready[i] = make(chan struct{})
	}
	return o
}

// known reports whether part n's reference is set.
func (o *openDigest) known(n int) bool {
	select {
	case <-o.ready[n-1]:
		return true
	default:
		return false
	}
}

// run reads f from its start once, hashing it whole and setting each
// part's reference as its last byte is hashed. A file that is not the
// size it was planned for is an error.
func (o *openDigest) run(ctx context.Context, f *os.File) {
	defer close(o.whole)
	h := sha256.New()
	var part hash.Hash // the current part's own hash, when not chained
	if !o.chained {
		part = sha256.New()
	}
	n, in := 0, int64(0) // the current part (from 0), and its bytes hashed
	var verr error
	total, err := readAhead(ctx, io.NewSectionReader(f, 0, o.d.size+1), func(b []byte) {
		for len(b) > 0 && verr == nil {
			if n == len(o.ready) {
				verr = fmt.Errorf("it has more than the %d bytes it had when opened", o.d.size)
				return
			}
			if in == 0 && o.chained {
				o.d.from[n], verr = sha256chain.Value(h)
			}
			c := min(int64(len(b)), o.d.partLen(n+1)-in)
			o.hash(h, part, b[:c])
			b, in = b[c:], in+c
			if in < o.d.partLen(n+1) {
				continue
			}
			switch {
			case !o.chained:
				o.d.parts[n] = hex.EncodeToString(part.Sum(nil))
				part.Reset()
			case n+1 < len(o.ready):
				o.d.parts[n], verr = sha256chain.Value(h)
			default: // the last part's is the whole's hash
				o.d.parts[n] = hex.EncodeToString(h.Sum(nil))
			}
			if verr == nil {
				close(o.ready[n])
			}
			n, in = n+1, 0
		}
	})
	switch {
	case err != nil:
		o.err = fmt.Errorf("perseus: hash %s: %w", f.Name(), err)
	case verr != nil:
		o.err = fmt.Errorf("perseus: hash %s: %w", f.Name(), verr)
	case total != o.d.size:
		o.err = fmt.Errorf("perseus: hash %s: %d bytes read, %d when opened: it changed while being read", f.Name(), total, o.d.size)
	default:
		o.sum = hex.EncodeToString(h.Sum(nil))
	}
}

// hash adds b to the whole's hash and, when parts are not chained, to the
// part's, the two at once on two goroutines.
func (o *openDigest) hash(whole, part hash.Hash, b []byte) {
	if part == nil {
		whole.Write(b)
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { part.Write(b) })
	whole.Write(b)
	wg.Wait()
}
