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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// resumeChunk is row 8's PATCH size for a file of size bytes: 1/15 of
// it (68.27 MiB of 1 GiB), so that the kill at half the file lands in the
// middle of a chunk (the 8th): with a size that divides half the file
// (64 MiB of 1 GiB) it would land on a chunk's boundary, where nothing is
// in flight.
func resumeChunk(size int64) int64 { return size / 15 }

// rowTusResume measures row 8: a new file sent over tus in chunks by a
// client process that is killed (SIGKILL) once half the file has passed
// a proxy in front of the server, then resumed by a second one (HEAD for
// the offset, PATCH the rest), without and with Upload-Checksum on every
// chunk: the bytes sent twice, as the server counts the PATCH bytes its
// handlers read (/metrics) and as the proxy counts those that passed it.
func rowTusResume(ctx context.Context, e *env, t *table) error {
	path := filepath.Join(e.work, "resume.bin")
	if err := writeFile(path, e.big, 8); err != nil {
		return err
	}
	defer os.Remove(path)
	want, err := goSHA256(path)
	if err != nil {
		return err
	}
	chunk := resumeChunk(e.big)
	type way struct {
		name     string
		checksum bool
		runs     []resumeRun
	}
	ways := []*way{{name: "no checksum"}, {name: "Upload-Checksum sha256 per chunk", checksum: true}}
	for r := range e.rounds {
		for _, w := range ways {
			if err := ctx.Err(); err != nil {
				return err
			}
			run, err := e.resumeAfterKill(ctx, path, want, chunk, w.checksum)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", w.name, r+1, err)
			}
			w.runs = append(w.runs, run)
			logf("row 8, round %d/%d: %s: killed at %d, first client sent %d, kept %d; received %d, re-sent %d bytes (clients: %d)",
				r+1, e.rounds, w.name, run.killedAt, run.firstSent, run.kept, run.received, run.resent(), run.sentAgain())
		}
	}
	for _, w := range ways {
		var received, sent []int64
		for _, run := range w.runs {
			received, sent = append(received, run.resent()), append(sent, run.sentAgain())
		}
		worst := max(slices.Max(received), slices.Max(sent))
		last := w.runs[len(w.runs)-1]
		t.add(row{n: 8, what: fmt.Sprintf("new %s file over tus in PATCHes of %.2f MiB, the client killed at 50 %% and resumed, %s: bytes re-sent",
			mib(e.big), float64(chunk)/(1<<20), w.name),
			perseus:  fmt.Sprintf("server received %s more than the file; clients sent %s more", byteSeries(received), byteSeries(sent)),
			baseline: "1 chunk = " + bytesIEC(chunk),
			ratio:    fmt.Sprintf("%.3f chunk (most)", float64(worst)/float64(chunk)),
			target:   "≤ 1 chunk", met: e.verdict(worst <= chunk),
			notes: []string{fmt.Sprintf("%s, last round: the client was killed when %s had passed the proxy (%s into its "+
				"chunk), and %s did in all (what its kernel had taken into the socket before the kill still went); the server "+
				"then held %s (HEAD's Upload-Offset), so the second client sent %s; the server's handlers read %s of PATCH bodies "+
				"in all; the resumed upload took %s, until its last PATCH was answered uploaded",
				w.name, bytesIEC(last.killedAt), bytesIEC(last.killedAt%chunk), bytesIEC(last.firstSent),
				bytesIEC(last.kept), bytesIEC(e.big-last.kept), bytesIEC(last.received), ms(last.resumeTook))},
		})
	}
	t.note(8, "perseus = the bench's tus client as its own process (`bench tus-client`: POST, then one PATCH per chunk, "+
		"the body sent from the file by sendfile; with Upload-Checksum, the chunk hashed first) against /api/v0/tus/ of a "+
		"`perseus serve` started for each run on a fresh --data (the embedded default), through a proxy in the bench that "+
		"counts the PATCH bytes that pass it and kills the client (SIGKILL) as its count passes half the file; once "+
		"the cut PATCH has ended at the server, a second client process HEADs the upload and sends the rest in chunks from "+
		"its offset, and the file must end uploaded with the right SHA-256; server received = the rise of its "+
		"perseus_http_request_body_bytes_total for PATCH /api/v0/tus/{id} (bytes its handlers read) − the file's size; "+
		"clients sent = the PATCH bytes that passed the proxy − the file's size (it counts, beside, what the proxy had read "+
		"from the killed client but not passed on when that connection broke); "+e.roundsNote())
	t.note(8, fmt.Sprintf("the chunk is %s, 1/15 of the file, so that 50 %% falls in the middle of a chunk (the 8th): with "+
		"one that divides half the file (64 MiB of 1 GiB) the kill lands between chunks, where nothing is lost either way; "+
		"without a checksum the server keeps what arrived of a cut PATCH and the client resumes after it; with one, it keeps "+
		"none of a chunk that does not hash to it, and the cut chunk is sent again whole", bytesIEC(chunk)))
	return nil
}

// resumeRun is one kill and resume.
type resumeRun struct {
	killedAt   int64 // PATCH bytes that had passed the proxy when the client was killed
	firstSent  int64 // PATCH bytes the first client got through the proxy in all
	kept       int64 // the upload's offset after the cut PATCH ended
	total      int64 // PATCH bytes that passed the proxy, both clients
	received   int64 // PATCH bytes the server's handlers read, both clients (its /metrics)
	size       int64
	resumeTook time.Duration
}

// resent is what the server received beyond the file's size.
func (r resumeRun) resent() int64 { return r.received - r.size }

// sentAgain is what the clients sent beyond the file's size: what passed
// the proxy.
func (r resumeRun) sentAgain() int64 { return r.total - r.size }

// resumeAfterKill runs one kill and resume against a fresh server.
func (e *env) resumeAfterKill(ctx context.Context, path, want string, chunk int64, checksum bool) (resumeRun, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return resumeRun{}, err
	}
	run := resumeRun{size: fi.Size()}
	dir, err := os.MkdirTemp(e.work, "serve-")
	if err != nil {
		return run, err
	}
	defer os.RemoveAll(dir)
	s, err := e.startServer(ctx, filepath.Join(dir, "data"))
	if err != nil {
		return run, err
	}
	defer s.stop()
	p, err := newKillProxy(s.URL, run.size/2)
	if err != nil {
		return run, err
	}
	defer p.close()
	if err := prime(path); err != nil {
		return run, err
	}

	c := tusClient{endpoint: p.url + tusEndpoint, file: path, key: apiKey, chunk: chunk, checksum: checksum, status: "uploaded"}
	cmd, err := c.command(ctx)
	if err != nil {
		return run, err
	}
	out, errs := &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, errs
	if err := cmd.Start(); err != nil {
		return run, err
	}
	p.victim.Store(cmd.Process)
	err = cmd.Wait()
	if p.killedAt.Load() < 0 {
		return run, fmt.Errorf("the first client ended (%v) before half the file passed:\n%s", err, errs.String())
	}
	run.killedAt = p.killedAt.Load()
	p.idle() // the cut PATCH has ended at the server
	run.firstSent = p.sent.Load()
	line, _, _ := strings.Cut(out.String(), "\n")
	loc, ok := strings.CutPrefix(line, "location ")
	if !ok {
		return run, fmt.Errorf("the first client printed no upload URL:\n%s", errs.String())
	}
	if run.kept, err = (tusClient{key: apiKey}).offset(ctx, loc); err != nil {
		return run, err
	}
	c.resume = loc
	start := time.Now()
	if _, err := c.run(ctx); err != nil {
		return run, err
	}
	run.resumeTook = time.Since(start)
	run.total = p.sent.Load()
	if err := checkUploaded(ctx, s, want); err != nil {
		return run, err
	}
	m, err := bodyBytes(s)
	run.received = m["PATCH "+tusEndpoint+"{id}"]
	if err == nil && run.received == 0 {
		err = fmt.Errorf("/metrics counts no bytes for PATCH %s{id}: %v", tusEndpoint, m)
	}
	return run, err
}

// killProxy passes requests to a server, counts the bytes of PATCH
// bodies, and kills its victim the moment that count passes a threshold.
type killProxy struct {
	url      string
	srv      *http.Server
	sent     atomic.Int64
	at       int64
	victim   atomic.Pointer[os.Process]
	killedAt atomic.Int64
	inFlight sync.WaitGroup
}

func newKillProxy(target string, at int64) (*killProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &killProxy{url: "http://" + ln.Addr().String(), at: at}
	p.killedAt.Store(-1)
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			p.inFlight.Add(1)
			defer p.inFlight.Done()
			r.Body = &killingBody{ReadCloser: r.Body, p: p}
		}
		proxy.ServeHTTP(w, r) // the Host stays the proxy's: Location comes back through it
	})}
	go p.srv.Serve(ln)
	return p, nil
}

// idle waits until no PATCH is passing.
func (p *killProxy) idle() { p.inFlight.Wait() }

func (p *killProxy) close() { p.srv.Close() }

// killingBody counts what is read from a PATCH body, and kills the
// victim as the count passes the threshold.
type killingBody struct {
	io.ReadCloser
	p *killProxy
}

func (b *killingBody) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	if n > 0 {
		if total := b.p.sent.Add(int64(n)); total >= b.p.at && b.p.killedAt.Load() < 0 {
			if v := b.p.victim.Load(); v != nil && b.p.killedAt.CompareAndSwap(-1, total) {
				v.Kill()
			}
		}
	}
	return n, err
}

// byteSeries is the median of n with the min–max, in bytes.
func byteSeries(n []int64) string {
	c := slices.Clone(n)
	slices.Sort(c)
	med := c[len(c)/2]
	if len(c)%2 == 0 {
		med = (c[len(c)/2-1] + c[len(c)/2]) / 2
	}
	if len(c) < 2 {
		return bytesIEC(med)
	}
	return fmt.Sprintf("%s (%s–%s)", bytesIEC(med), bytesIEC(c[0]), bytesIEC(c[len(c)-1]))
}

// bytesIEC writes n bytes for a reader: B below a KiB, else KiB or MiB
// with the exact count.
func bytesIEC(n int64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB (%d B)", float64(n)/(1<<10), n)
	}
	return fmt.Sprintf("%.2f MiB (%d B)", float64(n)/(1<<20), n)
}
