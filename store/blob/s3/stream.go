package s3blob

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/minio/crc64nvme"
	"github.com/perseus-go/perseus/store/blob"
)

// errAborted cuts off a streamed PUT that will not commit.
var errAborted = errors.New("s3: streamed put abandoned")

// streamPut prepares a request of size bytes to a presigned URL whose body
// is what the returned writer is written, sent once the first byte is
// (size > 0) or at Commit; what names the request in errors. ctx bounds
// the request until the writer has every byte (the caller's, say a
// client's request it relays, which may end once it has sent them all);
// from then on only Commit's ctx, or Abort, ends it.
func (s *Store) streamPut(ctx context.Context, what, method, url string, signed http.Header, size int64) (*streamWriter, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	detach := context.AfterFunc(parent, cancel)
	pr, pw := io.Pipe()
	var body io.Reader = pr
	if size == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		detach()
		cancel()
		return nil, fmt.Errorf("s3: %s: %w", what, err)
	}
	req.ContentLength = size
	for k, v := range signed {
		if k != "Host" && k != "Content-Length" {
			req.Header[k] = v
		}
	}
	client := s.client.Options().HTTPClient // the SDK's: its TLS settings, its connections
	if client == nil {
		client = http.DefaultClient
	}
	w := &streamWriter{s: s, what: what, size: size, client: client,
		req: req, pr: pr, pw: pw, cancel: cancel, parent: parent, detach: detach, done: make(chan struct{})}
	if size > 0 {
		w.start()
	}
	return w, nil
}

// streamWriter streams one object, or one part of a multipart upload, to a
// PUT through a pipe. It holds back the last byte until Commit, so that the
// server cannot store the bytes before Commit, whatever the writer's caller
// does in between.
type streamWriter struct {
	s      *Store
	what   string // "put <key>", "put part <n> of <key>": for errors
	key    string // the object's, when object
	object bool   // a whole object, checked at Commit and removed by Abort
	size   int64
	client aws.HTTPClient
	req    *http.Request
	pr     *io.PipeReader
	pw     *io.PipeWriter
	cancel context.CancelFunc
	parent context.Context // streamPut's ctx, which ends the request until detach
	detach func() bool     // lets the request outlive parent; false if parent ended it already

	n       int64  // bytes written, the held-back one included
	crc     uint64 // CRC64NVME of those bytes
	last    byte   // the held-back last byte, once n == size
	err     error  // sticky: too many bytes, or the PUT failed
	started bool
	closed  bool

	done   chan struct{} // closed when the PUT has ended; then:
	putErr error         // why it failed, or nil if the server stored the object
	etag   string        // the ETag it answered
}

// start sends the PUT on a goroutine that closes w.done when it has ended.
func (w *streamWriter) start() {
	w.started = true
	go func() {
		defer close(w.done)
		w.putErr = w.put()
		// Unblock a Write waiting for a request that reads no more.
		if w.putErr != nil {
			w.pr.CloseWithError(w.putErr)
		} else {
			w.pr.CloseWithError(fmt.Errorf("s3: %s: the server answered before all bytes were sent", w.what))
		}
	}()
}

// put sends the PUT. Until the server has answered, closing its connection
// resets it rather than ending it cleanly: a server may take a clean end
// for the end of the body and store the bytes so far as the object
// (versitygw up to 1.8.0 does; issue #2414), while a reset fails its read.
func (w *streamWriter) put() error {
	var (
		mu   sync.Mutex
		conn net.Conn
	)
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		setLinger(info.Conn, 0)
		mu.Lock()
		conn = info.Conn
		mu.Unlock()
	}}
	resp, err := w.client.Do(w.req.WithContext(httptrace.WithClientTrace(w.req.Context(), trace)))
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // not the presigned URL, which would let its reader write the object
		}
		return fmt.Errorf("s3: %s: %w", w.what, err)
	}
	mu.Lock()
	setLinger(conn, -1) // answered: the connection may serve other requests
	mu.Unlock()
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode == http.StatusNotFound && strings.Contains(string(msg), "NoSuchUpload") {
		// the part's upload is gone (aborted, or completed meanwhile)
		return fmt.Errorf("s3: %s: %s: %w", w.what, resp.Status, blob.ErrNotFound)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("s3: %s: %s: %s", w.what, resp.Status, strings.TrimSpace(string(msg)))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so that the connection is reused
	w.etag = resp.Header.Get("ETag")
	return nil
}

// Write streams p to the PUT, refusing all of it if it would take the
// object past its declared size; after that the writer cannot commit.
func (w *streamWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("s3: %s: %w", w.what, errClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	if int64(len(p)) > w.size-w.n {
		w.err = fmt.Errorf("s3: %s: writing %d bytes after %d would pass the declared size of %d",
			w.what, len(p), w.n, w.size)
		return 0, w.err
	}
	send := p
	if w.n+int64(len(p)) == w.size && len(p) > 0 {
		send = p[:len(p)-1]
	}
	if len(send) > 0 {
		n, err := w.pw.Write(send)
		w.crc = crc64nvme.Update(w.crc, send[:n])
		w.n += int64(n)
		if err != nil {
			<-w.done // the request has stopped reading: its error says why
			w.err = either(w.putErr, err)
			return n, w.err
		}
	}
	if len(send) < len(p) {
		w.last = p[len(p)-1]
		w.crc = crc64nvme.Update(w.crc, p[len(p)-1:])
		w.n++
		// Every byte is here: only Commit or Abort ends the request now,
		// unless streamPut's ctx ended first. Then the request is being cut
		// off, and the last byte must not follow: it would let the server
		// store the part or object after all, once its caller was told no.
		if !w.detach() {
			w.err = fmt.Errorf("s3: %s: %w", w.what, context.Cause(w.parent))
			return len(p), w.err
		}
	}
	return len(p), nil
}

// Commit sends the last byte, waits for the server to store the object and
// checks it. On any failure nothing written by w is left under the key.
func (w *streamWriter) Commit(ctx context.Context) error {
	if w.closed {
		return fmt.Errorf("s3: %s: %w", w.what, errClosed)
	}
	w.closed = true
	if w.err == nil && w.n != w.size {
		w.err = fmt.Errorf("s3: %s: %d bytes written, not the %d declared", w.what, w.n, w.size)
	}
	if w.err != nil {
		return errors.Join(w.err, w.discard())
	}
	if !w.detach() && w.parent.Err() != nil && w.size == 0 { // an empty PUT not yet sent
		return errors.Join(fmt.Errorf("s3: %s: %w", w.what, w.parent.Err()), w.discard())
	}
	// ctx bounds all of Commit, the held-back byte's hand-over included: a
	// store that stopped reading near the body's end would hold that write
	// for as long as its connection lives.
	stop := context.AfterFunc(ctx, w.cancel)
	defer stop()
	if w.size == 0 {
		w.start()
	} else if _, err := w.pw.Write([]byte{w.last}); err != nil {
		<-w.done
		return errors.Join(either(w.putErr, err), w.discard())
	} else {
		w.pw.Close()
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		return errors.Join(fmt.Errorf("s3: %s: %w", w.what, ctx.Err()), w.discard())
	}
	if w.putErr != nil {
		w.cancel()
		return w.putErr
	}
	if !w.object {
		w.cancel()
		return nil
	}
	if err := w.check(ctx); err != nil {
		return errors.Join(err, w.discard())
	}
	w.cancel()
	return nil
}

// Abort cuts off the PUT and removes the object if the server stored it
// nevertheless. It is a no-op after Commit or a previous Abort.
func (w *streamWriter) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.discard()
}

// discard ends the PUT with an error, waits for it, and removes what it
// stored if it succeeded all the same.
func (w *streamWriter) discard() error {
	w.pw.CloseWithError(errAborted)
	w.cancel()
	if !w.started {
		return nil
	}
	<-w.done
	if w.putErr != nil || !w.object {
		return nil // a part the store took stays until another replaces it
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.req.Context()), time.Minute)
	defer cancel()
	if w.etag != "" {
		return w.s.DeleteIf(ctx, w.key, w.etag) // not an object written after it
	}
	return w.s.Delete(ctx, w.key)
}

// setLinger sets SO_LINGER on the TCP connection under c (0: Close resets
// it; -1: Close ends it cleanly). An HTTP/2 connection is left alone: it
// carries other requests, and a stream is reset by a frame of its own.
func setLinger(c net.Conn, sec int) {
	for c != nil {
		switch x := c.(type) {
		case interface{ SetLinger(int) error }:
			x.SetLinger(sec)
			return
		case *tls.Conn:
			if x.ConnectionState().NegotiatedProtocol == "h2" {
				return
			}
			c = x.NetConn()
		default:
			return
		}
	}
}

// either returns a if it is not nil, else b.
func either(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
