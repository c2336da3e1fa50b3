package aligned

import "testing"

func TestBytesAreAlignedAndCapped(t *testing.T) {
	for _, n := range []int{1, Page - 1, Page, 1<<20 + 5} {
		b := Bytes(n)
		if len(b) != n || cap(b) != n || !Is(b) {
			t.Errorf("Bytes(%d): len %d, cap %d, aligned %v", n, len(b), cap(b), Is(b))
		}
		if Is(b[1:]) {
			t.Errorf("Bytes(%d)[1:] reported aligned", n)
		}
	}
}
