package ingest

import (
	"context"
	"testing"

	"github.com/perseus-go/perseus/store/meta"
)

type watchingStore struct{ meta.Store }

func (watchingStore) Watch(context.Context, func(string)) error { return nil }

type wrapper struct{ meta.Store }

func (w wrapper) Unwrap() meta.Store { return w.Store }

// TestWatcherFoundThroughWrappers: a store that can watch is found behind
// wrappers that say what they wrap, however many.
func TestWatcherFoundThroughWrappers(t *testing.T) {
	if _, ok := watcherOf(wrapper{wrapper{watchingStore{}}}); !ok {
		t.Fatal("the watcher behind two wrappers was not found")
	}
	if _, ok := watcherOf(wrapper{nil}); ok {
		t.Fatal("a wrapper of nothing counts as a watcher")
	}
}
