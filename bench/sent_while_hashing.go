package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// sentWhileHashing uploads a new file in parts (--parts, in one pass) through
// a proxy that counts the part bytes the server has read, and returns how
// many it had read when the client's find arrived: the moment the client's
// hash of the whole file was known. Were that content on the server, this
// is what the upload would have sent for nothing before stopping.
func sentWhileHashing(ctx context.Context, e *env) (sent, size int64, err error) {
	path := filepath.Join(e.work, "new-for-hash-race.bin")
	if err := writeFile(path, e.big, 5); err != nil {
		return 0, 0, err
	}
	defer os.Remove(path)
	s, err := e.startServer(ctx, filepath.Join(e.work, "hash-race-data"))
	if err != nil {
		return 0, 0, err
	}
	defer s.stop()
	target, err := url.Parse(s.URL)
	if err != nil {
		return 0, 0, err
	}
	var parts, atFind atomic.Int64
	atFind.Store(-1)
	proxy := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/parts/"):
			r.Body = &countingBody{r.Body, &parts}
		case r.URL.Path == "/api/v0/file/find":
			atFind.CompareAndSwap(-1, parts.Load())
		}
		proxy.ServeHTTP(w, r) // the Host stays the proxy's: part URLs come back through it
	})}
	go srv.Serve(ln)
	defer srv.Close()
	via := &server{URL: "http://" + ln.Addr().String()}
	if _, _, err := e.runCLI(ctx, via, "file", "upload", path, "--wait", "--parts"); err != nil {
		return 0, 0, err
	}
	if atFind.Load() < 0 {
		return 0, 0, fmt.Errorf("the upload made no find: it did not go in one pass")
	}
	return atFind.Load(), e.big, nil
}

// countingBody adds what is read from a request body to n.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	m, err := b.ReadCloser.Read(p)
	b.n.Add(int64(m))
	return m, err
}
