package sha256chain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

func TestIVIsTheValueBeforeAnyByte(t *testing.T) {
	v, err := Value(sha256.New())
	if err != nil || v != IV {
		t.Fatalf("Value(new) = %q, %v; want IV", v, err)
	}
}

// TestResumeContinuesTheHash splits data at every block boundary and at
// several part sizes: continuing from the value after the first piece must
// give the hash of the whole, and any other value must not.
func TestResumeContinuesTheHash(t *testing.T) {
	data := make([]byte, 64*37+13)
	rand.Read(data)
	whole := sha256.Sum256(data)
	for cut := 0; cut <= len(data); cut += BlockSize {
		h := sha256.New()
		h.Write(data[:cut])
		v, err := Value(h)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		r, err := Resume(v, int64(cut))
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		r.Write(data[cut:])
		if got := r.Sum(nil); hex.EncodeToString(got) != hex.EncodeToString(whole[:]) {
			t.Fatalf("cut %d: resumed hash %x, want %x", cut, got, whole)
		}
		if cut > 0 {
			wrong, _ := Resume(IV, int64(cut))
			wrong.Write(data[cut:])
			if hex.EncodeToString(wrong.Sum(nil)) == hex.EncodeToString(whole[:]) {
				t.Fatalf("cut %d: resuming from the wrong value gave the right hash", cut)
			}
		}
	}
}

func TestValueOnlyAtBlocks(t *testing.T) {
	h := sha256.New()
	h.Write(make([]byte, 65))
	if _, err := Value(h); !errors.Is(err, ErrNotAtBlock) {
		t.Fatalf("Value after 65 bytes: %v, want ErrNotAtBlock", err)
	}
	if _, err := Resume(IV, 65); !errors.Is(err, ErrNotAtBlock) {
		t.Fatalf("Resume at 65: %v, want ErrNotAtBlock", err)
	}
	for _, bad := range []string{"", "xyz", IV[:62], IV + "00"} {
		if _, err := Resume(bad, 0); err == nil {
			t.Errorf("Resume(%q) took it", bad)
		}
	}
	if !Valid(IV) || Valid(IV[:63]) || Valid("6A"+IV[2:]) {
		t.Fatal("Valid is wrong")
	}
}
