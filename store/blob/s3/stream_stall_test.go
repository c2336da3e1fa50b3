package s3blob

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// stallClient reads want bytes of a request's body, then reads no more
// and never answers, as a store whose connection stalled; it returns once
// the request's context ends (a real transport closes the connection then).
type stallClient struct{ want int64 }

func (c stallClient) Do(req *http.Request) (*http.Response, error) {
	io.CopyN(io.Discard, req.Body, c.want)
	<-req.Context().Done()
	req.Body.Close()
	return nil, req.Context().Err()
}

// TestCommitEndsWithItsContextWhileTheStoreStalls: a store that stops
// reading just before the held-back last byte does not hold Commit past
// its context (a relayed part's lock waits on that Commit).
func TestCommitEndsWithItsContextWhileTheStoreStalls(t *testing.T) {
	const size = 1 << 20
	base := openTest(t)
	c := s3.New(base.client.Options(), func(o *s3.Options) { o.HTTPClient = stallClient{want: size - 1} })
	s := *base
	s.client, s.presign = c, s3.NewPresignClient(c)
	for _, kind := range []string{"object", "part"} {
		t.Run(kind, func(t *testing.T) {
			var w interface {
				Write([]byte) (int, error)
				Commit(context.Context) error
			}
			var err error
			if kind == "object" {
				w, err = s.CreateSized(t.Context(), "stall/obj", size)
			} else {
				w, err = s.WritePart(t.Context(), "stall/obj", "no-such-upload", 1, size)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(make([]byte, size)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- w.Commit(ctx) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Commit to a stalled store succeeded")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Commit is still waiting on a stalled store 5 s after its 300 ms context ended")
			}
		})
	}
}
