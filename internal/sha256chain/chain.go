// Package sha256chain names SHA-256's chaining value between blocks, so that one hash can be continued where another left off.
package sha256chain

// SHA-256 (FIPS 180-4) keeps eight 32-bit words of state between 64-byte
// blocks: the chaining value. After a multiple of 64 bytes it is all there
// is to the hash besides the count of bytes, so a file's hash can be
// checked part by part: part k, continued from the chaining value after
// parts 1..k-1, must end at the value the next part continues from, and
// the last part's hash is the file's. The value is written as 64 hex
// digits, the eight words big-endian, as any SHA-256 implementation that
// exposes its state can produce it.
//
// Go's crypto/sha256 marshals its state (encoding.BinaryMarshaler, stable
// across Go versions) as "sha\x03", the eight words big-endian, the
// pending block padded to 64 bytes, and the byte count big-endian; that is
// the only layout this package reads and writes, and the tests check it.

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
)

// BlockSize is SHA-256's block: chaining values exist only at its multiples.
const BlockSize = sha256.BlockSize

const (
	magic     = "sha\x03"
	wordsAt   = len(magic)
	countAt   = wordsAt + 32 + BlockSize
	stateSize = countAt + 8
)

// IV is the chaining value before any byte: SHA-256's initial hash value.
const IV = "6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19"

// ErrNotAtBlock says that a hash has taken a count of bytes that is not a
// multiple of BlockSize, where no chaining value exists.
var ErrNotAtBlock = errors.New("sha256chain: not at a block boundary")

// Value returns the chaining value of h, a crypto/sha256 hash that has
// taken a multiple of BlockSize bytes.
func Value(h hash.Hash) (string, error) {
	m, ok := h.(encoding.BinaryMarshaler)
	if !ok {
		return "", errors.New("sha256chain: not a crypto/sha256 hash")
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return "", err
	}
	if len(b) != stateSize || string(b[:wordsAt]) != magic {
		return "", errors.New("sha256chain: not a SHA-256 state")
	}
	if binary.BigEndian.Uint64(b[countAt:])%BlockSize != 0 {
		return "", ErrNotAtBlock
	}
	return hex.EncodeToString(b[wordsAt : wordsAt+32]), nil
}

// Resume returns a SHA-256 hash that has taken n bytes (a multiple of
// BlockSize) ending at chaining value v: writing the bytes after them
// gives what hashing them all would.
func Resume(v string, n int64) (hash.Hash, error) {
	w, err := hex.DecodeString(v)
	if err != nil || len(w) != 32 {
		return nil, fmt.Errorf("sha256chain: %q is not 64 hex digits", v)
	}
	if n < 0 || n%BlockSize != 0 {
		return nil, ErrNotAtBlock
	}
	b := make([]byte, stateSize)
	copy(b, magic)
	copy(b[wordsAt:], w)
	binary.BigEndian.PutUint64(b[countAt:], uint64(n))
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("sha256chain: %w", err)
	}
	return h, nil
}

// Valid reports whether v is written as a chaining value: 64 lower-case
// hex digits.
func Valid(v string) bool {
	if len(v) != 64 {
		return false
	}
	for _, c := range v {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
