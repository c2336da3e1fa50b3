package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rowReupload measures row 3: a file whose content the server already has,
// uploaded again with the CLI, by default and with --hash-first, against
// Go's SHA-256 of the file alone; and the content bytes that reached the
// server, read from its /metrics.
func rowReupload(ctx context.Context, e *env, t *table) error {
	path := filepath.Join(e.work, "again.bin")
	if err := writeFile(path, e.big, 3); err != nil {
		return err
	}
	defer os.Remove(path)
	want, err := goSHA256(path)
	if err != nil {
		return err
	}
	hash := &variant{name: "Go SHA-256", run: func(context.Context, bool) (time.Duration, error) {
		return timed([]string{path}, func() error { _, err := goSHA256(path); return err })
	}}
	type again struct {
		*variant
		bytes  []int64          // content bytes per round
		routes map[string]int64 // the last round's body bytes by route
	}
	reupload := func(flags ...string) *again {
		a := &again{variant: &variant{name: strings.Join(append([]string{"perseus file upload (again)"}, flags...), " ")}}
		var before map[string]int64
		a.run = func(ctx context.Context, _ bool) (time.Duration, error) {
			return e.timeCLI(ctx, cliRun{
				before: func(s *server) error { // the content, the first time; then the counters
					if _, _, err := e.runCLI(ctx, s, "file", "upload", path, "--wait"); err != nil {
						return err
					}
					var err error
					before, err = bodyBytes(s)
					return err
				},
				inputs: []string{path},
				args:   append([]string{"file", "upload", path, "--wait"}, flags...),
				after: func(s *server) error {
					after, err := bodyBytes(s)
					if err != nil {
						return err
					}
					a.routes = map[string]int64{}
					var n int64
					for route, v := range after {
						if d := v - before[route]; d != 0 {
							a.routes[route] = d
							if contentRoute(route) {
								n += d
							}
						}
					}
					a.bytes = append(a.bytes, n)
					return checkUploaded(ctx, s, want)
				},
			})
		}
		return a
	}
	def, hashFirst := reupload(), reupload("--hash-first")
	if err := e.runRounds(ctx, 3, hash, def.variant, hashFirst.variant); err != nil {
		return err
	}
	for _, a := range []struct {
		*again
		what, target string
		ok           func(r float64, bytes int64) bool
	}{
		{def, "CLI default", "≤ 1.1×, bytes reported", func(r float64, _ int64) bool { return r <= 1.1 }},
		{hashFirst, "CLI --hash-first", "≤ 1.1×, 0 bytes", func(r float64, b int64) bool { return r <= 1.1 && b == 0 }},
	} {
		r, rs := a.times.over(hash.times)
		most := slices.Max(a.bytes)
		t.add(row{n: 3, what: "re-upload of existing " + mib(e.big) + " content, embedded server, " + a.what,
			perseus:  fmt.Sprintf("%s, %s content bytes sent", a.times, byteRange(a.bytes)),
			baseline: hash.times.String(), ratio: rs, target: a.target, met: e.verdict(a.ok(r, most)),
			notes: []string{fmt.Sprintf("%s: request body bytes the server read in the last round, by route: %s", a.name, routeBytes(a.routes))},
		})
	}
	sent, size, err := sentWhileHashing(ctx, e)
	if err != nil {
		return fmt.Errorf("bytes sent while hashing: %w", err)
	}
	t.note(3, fmt.Sprintf("sent while hashing: a new %s file uploaded with --parts had sent %s of its parts (%.0f%%) when its "+
		"find reached the server, i.e. when its hash was known (counted by a proxy in front of the server); content that reached "+
		"the server meanwhile by another way would cost that much before the upload stopped (sdktest "+
		"TestUploadFile_endsWithTheFileThatGotTheContentMeanwhile); the default, which does not hash, sends the whole file in that "+
		"race, and the server, which finds the content at the end, keeps one copy (sdktest TestUploadFile_tusEndsWithTheFileThatGotTheContentMeanwhile); "+
		"content the caller had before the upload began sends nothing either way (above); --hash-first would have sent 0", mib(size), mib(sent),
		100*float64(sent)/float64(size)))
	t.note(3,
		"baseline = Go crypto/sha256 of the file alone (one goroutine, reading ahead on another): the least a client must do "+
			"to learn that the server has the content",
		"perseus = `perseus file upload F --wait` as its own process, against a `perseus serve` started for that timing "+
			"on a fresh --data (embedded) to which the same file was uploaded first (not timed); the client hashes the file once; "+
			"the default begins a tus upload (POST /api/v0/tus/ with Perseus-Hash-First: same-size), which the server refuses (409 hash_first) "+
			"since the caller has a file of that size, and then hashes first; --hash-first hashes the "+
			"whole file first and sends none of it once the server says it has it",
		"content bytes = the rise of the server's perseus_http_request_body_bytes_total (bytes its handlers read from request "+
			"bodies) over the timing, summed over the routes that take content (PUT /upload/…, POST /api/v0/file/stream, POST /api/v0/file/batch/content, /api/v0/tus/…; "+
			"not the JSON routes of /api/); min–max over the rounds",
		e.roundsNote())
	return nil
}

// contentRoute says whether a route's request bodies are file content:
// anything but the JSON API (the stream and batch uploads are content).
func contentRoute(route string) bool {
	_, p, _ := strings.Cut(route, " ")
	return !strings.HasPrefix(p, "/api/") || p == "/api/v0/file/stream" || p == "/api/v0/file/batch/content" ||
		strings.HasPrefix(p, "/api/v0/tus/")
}

// bodyBytes reads perseus_http_request_body_bytes_total by route from the
// server's /metrics (Prometheus text format).
func bodyBytes(s *server) (map[string]int64, error) {
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	const name = `perseus_http_request_body_bytes_total{`
	m := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), name)
		if !ok {
			continue
		}
		i := strings.LastIndex(line, "} ")
		_, route, found := strings.Cut(line[:max(i, 0)], `route="`)
		route, _, closed := strings.Cut(route, `"`)
		v, err := strconv.ParseFloat(strings.Fields(line[i+1:] + " ")[0], 64)
		if i < 0 || !found || !closed || err != nil {
			return nil, fmt.Errorf("/metrics: cannot read %q", sc.Text())
		}
		m[route] += int64(v)
	}
	if len(m) == 0 && sc.Err() == nil {
		return nil, fmt.Errorf("/metrics has no %s…}", name)
	}
	return m, sc.Err()
}

// byteRange is "n" when every round sent n bytes, else "min–max".
func byteRange(b []int64) string {
	lo, hi := slices.Min(b), slices.Max(b)
	if lo == hi {
		return strconv.FormatInt(lo, 10)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

func routeBytes(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", r, m[r]))
	}
	return strings.Join(parts, ", ")
}
