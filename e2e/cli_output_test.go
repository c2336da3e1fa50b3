package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
)

// run runs the perseus binary with env added to the test's environment and
// returns stdout, stderr and the exit code.
func run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

func envOf(p *serverProc) []string {
	return []string{"PERSEUS_API_HOST=" + p.URL, "LETTRIA_API_KEY=" + p.Key}
}

// uploadJSON uploads path through the CLI and returns the file it printed.
func uploadJSON(t *testing.T, srv *serverProc, path string) perseus.File {
	t.Helper()
	out, errOut, code := cli(t, srv, "file", "upload", path, "--json")
	if code != 0 {
		t.Fatalf("upload %s: %d %s", path, code, errOut)
	}
	var f perseus.File
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("upload --json printed %q: %v", out, err)
	}
	return f
}

// apiFileJSON is the file's JSON object exactly as the API's find answers it.
func apiFileJSON(t *testing.T, srv *serverProc, id string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"ids": []string{id}})
	req, _ := http.NewRequest("POST", srv.URL+"/api/v0/file/find", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct{ Files []json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || len(res.Files) != 1 {
		t.Fatalf("find %s: %v, %d files", id, err, len(res.Files))
	}
	return string(res.Files[0])
}

// TestCLIJSONIsTheAPIsOwnJSON holds --json of get, ls and wait byte for
// byte to the API's own object for the same file, a 0-byte file included
// (size 0 and createdAt with its three fractional digits).
func TestCLIJSONIsTheAPIsOwnJSON(t *testing.T) {
	srv := startServer(t, t.TempDir())
	work := t.TempDir()
	empty := filepath.Join(work, "empty.txt")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	full, _ := writeRandom(t, work, "full.bin", 3000)
	for _, path := range []string{empty, full} {
		f := uploadJSON(t, srv, path)
		want := apiFileJSON(t, srv, f.ID)
		if filepath.Base(path) == "empty.txt" && !strings.Contains(want, `"size":0`) {
			t.Fatalf("the API's own object %s has no size 0: the test proves nothing", want)
		}
		for _, args := range [][]string{
			{"file", "get", f.ID, "--json"},
			{"file", "wait", f.ID, "--json"},
			{"file", "find", "--id", f.ID, "--json"},
			{"file", "ls", "--prefix", filepath.Base(path), "--json"},
		} {
			out, errOut, code := cli(t, srv, args...)
			if got := strings.TrimSpace(out); code != 0 || got != want {
				t.Errorf("%v: exit %d, %s\n got %s\nwant %s", args, code, errOut, got, want)
			}
		}
	}
	f := uploadJSON(t, srv, full)
	out, _, code := cli(t, srv, "file", "delete", f.ID, "--json")
	var del map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &del) != nil || del["id"] != f.ID || del["deleted"] != true {
		t.Errorf("delete --json: exit %d, %q", code, out)
	}
}

// TestCLIExitCodes holds the documented exit statuses: 2 for usage errors
// (a missing --tenant, a bad --hash), 3 for a wait that timed out, 130 for
// Ctrl-C during a wait.
func TestCLIExitCodes(t *testing.T) {
	srv := startServer(t, t.TempDir())
	const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	out, errOut, code := cli(t, srv, "file", "create", "pending.txt", hash, "--json")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	var created struct{ File perseus.File }
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	id := created.File.ID

	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"keys create without --tenant", []string{"keys", "create", "--data", t.TempDir()}, 2, "--tenant is required"},
		{"find with a bad --hash", []string{"file", "find", "--hash", "xyz"}, 2, "64 hexadecimal"},
		{"find with a hash one digit short", []string{"file", "find", "--hash", hash[1:]}, 2, "64 hexadecimal"},
		{"an unknown command", []string{"fiel"}, 2, "unknown command"},
		{"a wait that times out", []string{"file", "wait", id, "--timeout", "1s"}, 3, "not final after 1s"},
		{"a file that does not exist", []string{"file", "get", "no-such-id"}, 1, "no file with id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := cli(t, srv, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.stderr)
			}
			if n := strings.Count(errOut, "perseus:"); n != 1 {
				t.Errorf("stderr %q has %d 'perseus:' prefixes, want 1", errOut, n)
			}
		})
	}

	t.Run("Ctrl-C during a wait", func(t *testing.T) {
		cmd := exec.Command(binary, "file", "wait", id, "--timeout", "1h")
		cmd.Env = append(os.Environ(), envOf(srv)...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // it is waiting (a long poll)
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatal("file wait did not stop within 20 s of SIGINT")
		}
		if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(errb.String(), "interrupted") {
			t.Errorf("file wait after SIGINT: exit %d, stderr %q; want 130", code, errb.String())
		}
	})
}

// TestCLIErrorTextSaysWhatIsWrong: no key, a host with a wrong base path,
// and the request id of a failed call, each in one line with one prefix.
func TestCLIErrorTextSaysWhatIsWrong(t *testing.T) {
	srv := startServer(t, t.TempDir())

	_, errOut, code := run(t, []string{"PERSEUS_API_HOST=" + srv.URL, "LETTRIA_API_KEY="}, "file", "ls")
	if code != 2 || !strings.Contains(errOut, "LETTRIA_API_KEY (or --api-key) is empty") {
		t.Errorf("no key: exit %d, %q", code, errOut)
	}

	_, errOut, code = run(t, []string{"PERSEUS_API_HOST=" + srv.URL + "/perseus", "LETTRIA_API_KEY=" + srv.Key}, "file", "ls")
	if code != 1 || !strings.Contains(errOut, "base path looks wrong") || strings.Contains(errOut, "offers no listing") {
		t.Errorf("wrong base path: exit %d, %q", code, errOut)
	}
	if n := strings.Count(errOut, "perseus:"); n != 1 {
		t.Errorf("wrong base path: %d 'perseus:' prefixes in %q", n, errOut)
	}

	_, errOut, code = cli(t, srv, "file", "delete", "no-such-id")
	if code != 1 || !strings.Contains(errOut, "request id ") || strings.Count(errOut, "perseus:") != 1 {
		t.Errorf("a failed call: exit %d, %q; want its request id and one prefix", code, errOut)
	}
	i := strings.Index(errOut, "request id ")
	reqID := strings.TrimRight(strings.Fields(errOut[i+len("request id "):])[0], ")")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(srv.log.String(), reqID) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(srv.log.String(), reqID) {
		t.Errorf("request id %q is not in the server's log", reqID)
	}
}

// cutProxy forwards to a server; the first download of content it cuts
// after cutAt bytes, and it records the Range of each download and the
// bytes of content it passed.
type cutProxy struct {
	cutAt  int64
	cut    atomic.Bool
	bytes  atomic.Int64
	mu     sync.Mutex
	ranges []string
}

func (c *cutProxy) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/content") {
			rp.ServeHTTP(w, r)
			return
		}
		c.mu.Lock()
		c.ranges = append(c.ranges, r.Header.Get("Range"))
		c.mu.Unlock()
		rp.ServeHTTP(&countingWriter{ResponseWriter: w, c: c}, r)
	})
}

type countingWriter struct {
	http.ResponseWriter
	c *cutProxy
	n int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if !w.c.cut.Load() && w.n+int64(len(b)) >= w.c.cutAt {
		b = b[:w.c.cutAt-w.n]
		w.ResponseWriter.Write(b)
		w.c.bytes.Add(int64(len(b)))
		w.ResponseWriter.(http.Flusher).Flush()
		w.c.cut.Store(true)
		panic(http.ErrAbortHandler) // the connection drops mid-body
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	w.c.bytes.Add(int64(n))
	return n, err
}

func (w *countingWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

// TestCLIDownload: a cut download resumes, fetching only the rest; -o -
// streams a multi-MiB file to stdout; files get the umask's mode; a name
// the file system refuses is reported as such.
func TestCLIDownload(t *testing.T) {
	srv := startServer(t, t.TempDir())
	const size = 6<<20 + 77
	src, _ := writeRandom(t, t.TempDir(), "big.bin", size)
	want, _ := os.ReadFile(src)
	f := uploadJSON(t, srv, src)

	t.Run("resume", func(t *testing.T) {
		cp := &cutProxy{cutAt: 2<<20 + 5}
		ps := httptest.NewServer(cp.handler(srv.URL))
		defer ps.Close()
		via := &serverProc{URL: ps.URL, Key: srv.Key}
		dir := t.TempDir()
		target := filepath.Join(dir, "big.bin")
		_, errOut, code := cli(t, via, "file", "download", f.ID, "-o", target)
		if code != 1 || !strings.Contains(errOut, "run the same command again") {
			t.Fatalf("cut download: exit %d, %q", code, errOut)
		}
		part := filepath.Join(dir, perseus.PartialName(f.ID))
		if info, err := os.Stat(part); err != nil || info.Size() != cp.cutAt {
			t.Fatalf("partial file after the cut: %v, %v; want %d bytes", info, err, cp.cutAt)
		}
		before := cp.bytes.Load()
		_, errOut, code = cli(t, via, "file", "download", f.ID, "-o", target)
		if code != 0 {
			t.Fatalf("resumed download: exit %d, %s", code, errOut)
		}
		if got, _ := os.ReadFile(target); !bytes.Equal(got, want) {
			t.Error("the resumed download wrote other bytes")
		}
		cp.mu.Lock()
		last := cp.ranges[len(cp.ranges)-1]
		cp.mu.Unlock()
		if fetched := cp.bytes.Load() - before; fetched != size-cp.cutAt || last != "bytes=2097157-" {
			t.Errorf("the resumed download fetched %d bytes with Range %q; want the %d bytes after the cut", fetched, last, size-cp.cutAt)
		}
		if _, err := os.Stat(part); err == nil {
			t.Error("the partial file is left after the download finished")
		}
	})

	t.Run("to stdout", func(t *testing.T) {
		out, errOut, code := cli(t, srv, "file", "download", f.ID, "-o", "-")
		if code != 0 || out != string(want) {
			t.Errorf("download -o -: exit %d, %d bytes of %d, %s", code, len(out), size, errOut)
		}
	})

	t.Run("umask", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "masked.bin")
		cmd := exec.Command("sh", "-c", `umask 027 && exec "$0" file download "$1" -o "$2"`, binary, f.ID, target)
		cmd.Env = append(os.Environ(), envOf(srv)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("download: %v %s", err, out)
		}
		if info, err := os.Stat(target); err != nil || info.Mode().Perm() != 0o640 {
			t.Errorf("mode under umask 027: %v %v, want 0640", info.Mode().Perm(), err)
		}
	})

	t.Run("a name the file system refuses", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, strings.Repeat("n", 300))
		_, errOut, code := cli(t, srv, "file", "download", f.ID, "-o", target)
		if code != 1 || !strings.Contains(errOut, "file name too long") {
			t.Errorf("download to a 300-byte name: exit %d, %q", code, errOut)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("left %v behind", entries)
		}
	})
}

// TestCLICompletion: file ids for get (with their names), nothing and no
// error without a server, and the values of ls --status.
func TestCLICompletion(t *testing.T) {
	srv := startServer(t, t.TempDir())
	p, _ := writeRandom(t, t.TempDir(), "complete-me.bin", 100)
	f := uploadJSON(t, srv, p)
	for _, sub := range []string{"get", "wait", "delete", "download"} {
		out, errOut, code := cli(t, srv, "__complete", "file", sub, "")
		if code != 0 || !strings.Contains(out, f.ID+"\tcomplete-me.bin") || !strings.Contains(out, ":4") {
			t.Errorf("__complete file %s: exit %d, %q %q", sub, code, out, errOut)
		}
	}
	out, _, _ := cli(t, srv, "__complete", "file", "get", "zzz")
	if strings.Contains(out, f.ID) {
		t.Errorf("completion of a prefix no id has offered %q", out)
	}
	start := time.Now()
	out, _, code := run(t, []string{"PERSEUS_API_HOST=http://127.0.0.1:1", "LETTRIA_API_KEY=k"}, "__complete", "file", "get", "")
	if code != 0 || strings.Contains(out, "error") || time.Since(start) > 5*time.Second {
		t.Errorf("completion without a server: exit %d, %q after %v", code, out, time.Since(start))
	}
	out, _, _ = cli(t, srv, "__complete", "file", "ls", "--status", "")
	for _, s := range []string{"pending", "uploaded", "failed"} {
		if !strings.Contains(out, s) {
			t.Errorf("__complete file ls --status: %q lacks %s", out, s)
		}
	}
}

// TestLoadKeepsAccessLogsOffTheTerminal: perseus load against its
// embedded server prints its summary, not a log line per request.
func TestLoadKeepsAccessLogsOffTheTerminal(t *testing.T) {
	cmd := exec.Command(binary, "load", "--clients", "2", "--duration", "1s")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("load: %v %s", err, errb.String())
	}
	if strings.Contains(errb.String(), "request") || strings.Contains(out.String(), "msg=request") {
		t.Errorf("load printed access logs:\n%s", errb.String())
	}
	if out.Len() == 0 {
		t.Error("load printed no summary")
	}
}
