package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestPerKeyDropsOnlyBucketsThatFilledUpAgain(t *testing.T) {
	l := New(1, 2) // a bucket fills in 2 s
	t0 := l.swept
	for i := range 100 {
		if d := l.Wait(fmt.Sprint("idle-", i), t0); d != 0 {
			t.Fatalf("first request of a key waits %v", d)
		}
	}
	l.Wait("busy", t0.Add(time.Second))
	l.Wait("busy", t0.Add(time.Second))
	if n := l.Held(); n != 101 {
		t.Fatalf("%d buckets, want 101", n)
	}
	// 2 s on, the idle keys' buckets are full again; busy's is not.
	if d := l.Wait("busy", t0.Add(2*time.Second)); d != 0 {
		t.Fatalf("busy waits %v with a token back", d)
	}
	if n := l.Held(); n != 1 {
		t.Fatalf("%d buckets after the sweep, want 1 (busy's)", n)
	}
	if d := l.Wait("busy", t0.Add(2*time.Second)); d <= 0 || d > time.Second {
		t.Fatalf("busy, out of tokens, waits %v; want up to 1s", d)
	}
}
