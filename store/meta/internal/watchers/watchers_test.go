package watchers

import "testing"

func TestSet(t *testing.T) {
	var s Set[int]
	if !s.Empty() {
		t.Fatal("a new set is not empty")
	}
	var a, b []int
	removeA := s.Add(func(v int) { a = append(a, v) })
	removeB := s.Add(func(v int) { b = append(b, v) })
	s.Publish(1)
	removeA()
	removeA() // a second remove does nothing
	s.Publish(2)
	if len(a) != 1 || a[0] != 1 || len(b) != 2 || b[1] != 2 {
		t.Fatalf("published to a %v, to b %v; want [1] and [1 2]", a, b)
	}
	if s.Empty() {
		t.Fatal("the set is empty while b watches")
	}
	removeB()
	if !s.Empty() {
		t.Fatal("the set is not empty once every watch is removed")
	}
}
