package server

import (
	"context"
	"testing"

	"github.com/perseus-go/perseus/store/blob/local"
	"github.com/perseus-go/perseus/store/meta"
)

type watchingStore struct{ meta.Store }

func (watchingStore) Watch(context.Context, func(string)) error { return nil }

// TestWatcherFoundThroughTheServersWrapper checks that a store's Watch is
// still found once New has wrapped the store to observe it: the wrapper
// says what it wraps, which is how the ingest core looks through it.
func TestWatcherFoundThroughTheServersWrapper(t *testing.T) {
	blobs, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Meta: watchingStore{}, Blobs: blobs, SigningKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	u, ok := s.cfg.Meta.(interface{ Unwrap() meta.Store })
	if _, watches := u.Unwrap().(meta.Watcher); !ok || !watches {
		t.Fatal("the server does not see that its metadata store can watch")
	}
}
