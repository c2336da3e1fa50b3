package local

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/perseus-go/perseus/store/blob"
)

func TestCommitAllReturnsOnlyOnceEveryBytesAndEntryIsDurable(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newSyncLog(s)
	const n, batches = 24, 3
	var wg sync.WaitGroup
	for b := range batches {
		wg.Go(func() {
			var keys []string
			var ws []blob.Writer
			for i := range n {
				key := fmt.Sprintf("files/t/s%d/c%d-%d/%02d", i%4, b, i%8, i) // shards shared by the batches, content directories by a few
				if i%3 == 0 {
					key = fmt.Sprintf("files/t/streamed/%d-%02d", b, i) // one directory shared by all
				}
				w, err := s.Create(context.Background(), key)
				if err != nil {
					t.Error(err)
					return
				}
				w.Write([]byte(key))
				keys, ws = append(keys, key), append(ws, w)
			}
			for i, err := range s.CommitAll(context.Background(), ws) {
				if err != nil {
					t.Errorf("CommitAll: %s: %v", keys[i], err)
					continue
				}
				checkDurable(t, s, l, keys[i])
			}
		})
	}
	wg.Wait()
	if len(l.early) > 0 {
		t.Errorf("files synced after their rename: %v", l.early)
	}
	if len(s.made.dirs) > 0 {
		t.Errorf("directories still marked as not durable after every commit returned: %v", s.made.dirs)
	}
	streamed := filepath.Join(s.objects, "files", "t", "streamed")
	if got := l.fsyncs[streamed]; got > batches {
		t.Errorf("%d batches into one directory made %d fsyncs of it, more than one a batch", batches, got)
	}
	t.Logf("%d objects in %d batches: %d directory fsyncs in all", n*batches, batches, sum(l.fsyncs))
}
