package sdktest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/server"
)

func TestUploadFile_sendsLargeFileInVerifiedParts(t *testing.T) {
	sendsParts := func(t *testing.T, e *env, chained bool) {
		path, content := writeRandom(t, "big.bin", int(3*e.part+17))
		pc := &parts{}
		f, err := e.client(pc).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part), perseus.WithParts(true))
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != perseus.StatusUploaded || f.Size != int64(len(content)) || f.SourceHash != sum(content) {
			t.Fatalf("UploadFile = %+v, want uploaded, %d bytes", f, len(content))
		}
		if pc.n.Load() != 4 || pc.bytes.Load() != int64(len(content)) || e.count("PUT upload") != 0 {
			t.Errorf("sent %d part PUTs of %d bytes (and %d whole PUTs), want 4 parts of %d", pc.n.Load(), pc.bytes.Load(), e.count("PUT upload"), len(content))
		}
		if !bytes.Equal(e.stored(f), content) {
			t.Error("the stored content differs from the file")
		}
		if want := map[bool]int64{true: 4, false: 0}[chained]; pc.chained.Load() != want {
			t.Errorf("%d of the part PUTs were chained, want %d", pc.chained.Load(), want)
		}
	}
	// Through the server (the embedded default, and S3 with parts relayed,
	// its default) the parts are chained: the client hashed the file once,
	// the server checks each part as a piece of the whole.
	backends(t, func(t *testing.T, e *env) { sendsParts(t, e, true) })
	// Straight to S3 (--s3-parts direct), S3 checks parts on their own.
	t.Run("s3-direct", func(t *testing.T) {
		sendsParts(t, newEnv(t, openS3(t), func(c *server.Config) { c.DirectParts = true }), false)
	})
}

// linkDown lets the first n part PUTs through, waits until they have been
// answered, then fails every later one as a dropped network would.
type linkDown struct {
	parts
	n        int64
	started  atomic.Int64
	answered sync.WaitGroup
}

var errLinkDown = errors.New("link down")

func newLinkDown(n int64) *linkDown {
	l := &linkDown{n: n}
	l.answered.Add(int(n))
	return l
}

func (l *linkDown) RoundTrip(r *http.Request) (*http.Response, error) {
	if !isPart(r) {
		return l.base().RoundTrip(r)
	}
	if l.started.Add(1) <= l.n {
		defer l.answered.Done()
		return l.parts.RoundTrip(r)
	}
	l.answered.Wait()
	return nil, errLinkDown
}

func TestUploadFile_resumesSendingOnlyMissingParts(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		path, content := writeRandom(t, "resume.bin", int(5*e.part+3))
		opts := []perseus.UploadOption{perseus.WithPartSize(e.part), perseus.WithParallelParts(3), perseus.WithParts(true)}
		down := newLinkDown(2)
		if _, err := e.client(down).File.UploadFile(t.Context(), path, opts...); !errors.Is(err, errLinkDown) {
			t.Fatalf("UploadFile over a link that went down: %v", err)
		}
		if down.parts.n.Load() != 2 || down.bytes.Load() != 2*e.part {
			t.Fatalf("before the link went down %d parts (%d bytes) got through, want 2", down.parts.n.Load(), down.bytes.Load())
		}

		// The held parts count as sent as soon as they are found to hold
		// the file's bytes: before any other is sent, one by one as the
		// file is hashed in one pass.
		var mu sync.Mutex
		var first []perseus.Progress
		pc := &parts{}
		f, err := e.client(pc).File.UploadFile(t.Context(), path, append(opts, perseus.WithProgress(func(p perseus.Progress) {
			mu.Lock()
			defer mu.Unlock()
			if len(first) < 2 {
				first = append(first, p)
			}
		}))...)
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != perseus.StatusUploaded || !bytes.Equal(e.stored(f), content) {
			t.Fatalf("resumed upload = %+v", f)
		}
		if want := int64(len(content)) - 2*e.part; pc.n.Load() != 4 || pc.bytes.Load() != want {
			t.Errorf("the resumed upload sent %d parts, %d bytes; want the 4 missing parts, %d bytes", pc.n.Load(), pc.bytes.Load(), want)
		}
		if len(first) != 2 || first[0].Sent != e.part || first[1].Sent != 2*e.part || first[1].Total != int64(len(content)) {
			t.Errorf("first progress of the resumed upload = %+v, want the 2 held parts counted as sent, one by one", first)
		}
	})
}

// busyFor answers two of every three of the first 18 requests that reach
// the server with 503 or 429 (Retry-After: 0), and counts them.
func busyFor(e *env) *atomic.Int64 {
	var requests, faults atomic.Int64
	e.inject(func(w http.ResponseWriter, r *http.Request) bool {
		n := requests.Add(1)
		if n > 18 || n%3 == 0 {
			return false
		}
		faults.Add(1)
		status := http.StatusServiceUnavailable
		if n%2 == 0 {
			status = http.StatusTooManyRequests
		}
		w.Header().Set("Retry-After", "0")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"message":"busy, retry"}`))
		return true
	})
	return &faults
}

func TestUploadFile_stillSucceedsWhileServerAnswers503And429(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		path, content := writeRandom(t, "busy.bin", int(4*e.part))
		faults := busyFor(e)
		c := e.client(nil, perseus.WithRetry(perseus.RetryPolicy{MaxAttempts: 6, MaxDelay: 1}))
		f, err := c.File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part))
		if err != nil {
			t.Fatalf("UploadFile through a busy server: %v", err)
		}
		if f.Status != perseus.StatusUploaded || !bytes.Equal(e.stored(f), content) {
			t.Fatalf("UploadFile = %+v", f)
		}
		// On S3 the parts go to the bucket; the server's own answers are retried.
		if faults.Load() < 8 {
			t.Errorf("%d faults injected: the test did not exercise retries", faults.Load())
		}
	})
}

// slowFirstPart holds the first part PUT back for a while before sending it.
type slowFirstPart struct {
	parts
	delay time.Duration
	once  sync.Once
}

func (s *slowFirstPart) RoundTrip(r *http.Request) (*http.Response, error) {
	if isPart(r) {
		s.once.Do(func() { time.Sleep(s.delay) })
	}
	return s.parts.RoundTrip(r)
}

func TestUploadFile_asksForAFreshURLWhenAPartURLExpired(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		path, content := writeRandom(t, "slow.bin", int(3*e.part))
		slow := &slowFirstPart{delay: 2100 * time.Millisecond} // URLs live 1 s, to the second
		f, err := e.client(slow).File.UploadFile(t.Context(), path, perseus.WithPartSize(e.part), perseus.WithParallelParts(1), perseus.WithParts(true))
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != perseus.StatusUploaded || !bytes.Equal(e.stored(f), content) {
			t.Fatalf("UploadFile = %+v", f)
		}
		// S3 signs times to the second, so a 1 s URL may expire sooner and
		// cost another refresh: at least one, and the expired PUT again.
		if e.count("POST part URLs") < 2 || slow.n.Load() < 4 {
			t.Errorf("%d part URL requests and %d part PUTs; want a refresh and the expired PUT again", e.count("POST part URLs"), slow.n.Load())
		}
	}, func(c *server.Config) { c.UploadURLTTL = time.Second })
}

func TestUploadFile_honoursTheServersLimits(t *testing.T) {
	e := newEnv(t, nil, func(c *server.Config) { c.MaxFileSize, c.MaxParts = 1<<20, 4 })
	tooBig, _ := writeRandom(t, "too-big.bin", 1<<20+1)
	_, err := e.client(nil).File.UploadFile(t.Context(), tooBig, perseus.WithPartSize(e.part))
	if err == nil || e.count("POST /api/v0/file") != 0 {
		t.Fatalf("UploadFile of a file over maxFileSize: %v after %d creates; want an error before any", err, e.count("POST /api/v0/file"))
	}
	// 16 parts of 64 KiB would exceed maxParts: the SDK picks 4 of 256 KiB.
	path, content := writeRandom(t, "fits.bin", 1<<20)
	f, err := e.client(nil).File.UploadFile(t.Context(), path, perseus.WithPartSize(64<<10), perseus.WithParts(true))
	if err != nil || !bytes.Equal(e.stored(f), content) {
		t.Fatalf("UploadFile = %+v, %v", f, err)
	}
	if e.count("PUT part") != 4 {
		t.Errorf("%d part PUTs, want 4 (maxParts)", e.count("PUT part"))
	}
	l, err := e.client(nil).File.Limits(context.Background())
	if err != nil || l.MaxFileSize != 1<<20 || l.MaxParts != 4 || l.MinPartSize != 64<<10 || !l.Multipart {
		t.Errorf("Limits = %+v, %v", l, err)
	}
}
