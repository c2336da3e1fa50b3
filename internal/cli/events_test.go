package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/server"
	"github.com/perseus-go/perseus/store/blob/local"
	"github.com/perseus-go/perseus/store/meta/sqlite"
)

// eventsServer runs a real server (SQLite, a local directory) with its
// background work, accepting key "k", and returns its URL and a client.
func eventsServer(t *testing.T) (string, *perseus.Client) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Meta: db, Blobs: blobs, SigningKey: bytes.Repeat([]byte("k"), 32),
		StaticKeys: map[string]string{"k": "t"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { srv.Run(ctx); close(ran) }()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); stop(); <-ran; db.Close() })
	c, err := perseus.NewClient(perseus.WithHost(ts.URL), perseus.WithAPIKey("k"))
	if err != nil {
		t.Fatal(err)
	}
	return ts.URL, c
}

func uploadText(t *testing.T, c *perseus.Client, name, content string) *perseus.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	os.WriteFile(p, []byte(content), 0o600)
	f, err := c.File.UploadFile(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFileEventsPrintsEachEvent: perseus file events prints a line per
// event (id, type, file id, status, name), or with --json the event as the
// API sends it; --since and --type select; --follow=false stops after the
// backlog, and by default it goes on with each new event.
func TestFileEventsPrintsEachEvent(t *testing.T) {
	url, c := eventsServer(t)
	a := uploadText(t, c, "a.txt", "first")
	b := uploadText(t, c, "b.txt", "second")
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"file", "events", "--host", url, "--api-key", "k", "--follow=false"}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}

	out, errOut, code := run()
	want := fmt.Sprintf("1       file.created   %s  pending   a.txt\n2       file.uploaded  %s  uploaded  a.txt\n"+
		"3       file.created   %s  pending   b.txt\n4       file.uploaded  %s  uploaded  b.txt\n", a.ID, a.ID, b.ID, b.ID)
	if code != 0 || out != want {
		t.Errorf("file events: exit %d, stderr %q, stdout\n%s\nwant\n%s", code, errOut, out, want)
	}

	out, errOut, code = run("--since", "1", "--type", "file.uploaded", "--json")
	// The API's own JSON of those events.
	req, _ := http.NewRequest("GET", url+"/api/v0/events?since=1&types=file.uploaded&follow=false", nil)
	req.Header.Set("Authorization", "Bearer k")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Events []json.RawMessage }
	json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	var api []string
	for _, e := range page.Events {
		api = append(api, string(e))
	}
	if code != 0 || len(api) != 2 || out != strings.Join(api, "\n")+"\n" {
		t.Errorf("--json: exit %d, stderr %q, stdout\n%s\nwant the API's\n%s", code, errOut, out, strings.Join(api, "\n"))
	}

	out, _, code = run("--type", "file.created,file.deleted", "--since", "2")
	if code != 0 || !regexp.MustCompile(`^3 +file\.created +\S+ +pending +b\.txt\n$`).MatchString(out) {
		t.Errorf("--type file.created,file.deleted --since 2: exit %d, %q", code, out)
	}

	for _, bad := range [][]string{{"--type", "file.renamed"}, {"--since", "-1"}} {
		if _, errOut, code := run(bad...); code != exitUsage || !strings.Contains(errOut, bad[0]) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error naming the flag", bad, code, errOut)
		}
	}
	var out2, errb bytes.Buffer
	if code := Main([]string{"file", "events", "--host", url, "--api-key", "wrong", "--follow=false"}, &out2, &errb); code != exitFailure || !strings.Contains(errb.String(), "401") {
		t.Errorf("a wrong key: exit %d, stderr %q", code, errb.String())
	}

	// Following: the backlog after --since, then each new event as it comes.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var live, liveErr syncBuffer
	root := newRoot(&live, &liveErr)
	root.SetArgs([]string{"file", "events", "--host", url, "--api-key", "k", "--since", "4"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	time.Sleep(200 * time.Millisecond)
	if live.String() != "" {
		t.Errorf("printed before any new event: %q", live.String())
	}
	n := uploadText(t, c, "new.txt", "third")
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(live.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := live.String(); !strings.Contains(got, "5       file.created   "+n.ID) || !strings.Contains(got, "6       file.uploaded  "+n.ID+"  uploaded  new.txt") {
		t.Errorf("following: %q", got)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("file events did not stop when its context ended")
	}
}
