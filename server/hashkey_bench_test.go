package server

import "testing"

func BenchmarkHashKey(b *testing.B) {
	for b.Loop() {
		HashKey("0123456789abcdef0123456789abcdef0123456789abcdef")
	}
}
