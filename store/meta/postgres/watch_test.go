package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
	"github.com/perseus-go/perseus/store/meta/metatest"
	"github.com/perseus-go/perseus/store/meta/postgres"
)

// TestWatchSeesTransitionsOfAnotherProcess opens two stores on one database,
// as two replicas do, and checks that a Transition through one is announced
// to a Watch on the other, and a Transition that does not apply is not.
func TestWatchSeesTransitionsOfAnotherProcess(t *testing.T) {
	base, admin := database(t)
	url := freshSchema(t, base, admin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	seen := make(chan string, 16)
	wctx, stop := context.WithCancel(ctx)
	watched := make(chan error, 1)
	go func() { watched <- b.Watch(wctx, func(id string) { seen <- id }) }()

	f := meta.File{ID: metatest.NewID(), Tenant: "t", Name: "n", SourceHash: metatest.Hash("watch"), CreatedAt: time.Now()}
	if _, _, err := a.Claim(ctx, f); err != nil {
		t.Fatal(err)
	}
	// LISTEN is in place once a notice sent after it arrives: repeat a
	// harmless transition until one does.
	deadline := time.After(10 * time.Second)
	for ready := false; !ready; {
		if _, err := a.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusPending}); err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-seen:
			ready = id == f.ID
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("no notice of a transition within 10s")
		}
	}
	for len(seen) > 0 {
		<-seen
	}

	if _, err := a.Transition(ctx, f.ID, meta.Update{From: meta.StatusFailed, To: meta.StatusUploaded}); err == nil {
		t.Fatal("a transition from the wrong status applied")
	}
	if _, err := a.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1}); err != nil {
		t.Fatal(err)
	}
	// The channel is the database's, so other tests' servers (other
	// schemas, other packages run at once) may announce their own ids on
	// it: only notices of f count.
	upload := time.After(5 * time.Second)
	for got := false; !got; {
		select {
		case id := <-seen:
			got = id == f.ID
		case <-upload:
			t.Fatal("no notice of the upload within 5s")
		}
	}
	quiet := time.After(200 * time.Millisecond)
	for done := false; !done; {
		select {
		case id := <-seen:
			if id == f.ID {
				t.Fatalf("a second notice of %q: the transition that did not apply was announced", id)
			}
		case <-quiet:
			done = true
		}
	}
	stop()
	if err := <-watched; err == nil {
		t.Fatal("Watch returned nil after its context ended")
	}
}
