package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus/internal/testenv"
	"github.com/perseus-go/perseus/internal/webhook"
)

// e2eReceiver is a webhook receiver on loopback: it verifies each
// delivery against the secret of the webhook its path names, and
// answers as status says for that path.
type e2eReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	secrets  map[string]string            // path → secret
	status   func(path string, n int) int // the answer to the n-th delivery to path (from 1); 0: none, it hangs
	arrivals map[string]int
	got      []e2eDelivery // those answered
	arrived  chan string   // the path of each delivery, as it arrives
}

type e2eDelivery struct {
	path, id, typ string
	status        int
}

func newE2EReceiver(t *testing.T) *e2eReceiver {
	r := &e2eReceiver{t: t, secrets: map[string]string{}, arrivals: map[string]int{}, arrived: make(chan string, 100)}
	stop := make(chan struct{})
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		secret := r.secrets[req.URL.Path]
		r.arrivals[req.URL.Path]++
		status := r.status(req.URL.Path, r.arrivals[req.URL.Path])
		r.mu.Unlock()
		id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
		sec, _ := strconv.ParseInt(ts, 10, 64)
		if want, err := webhook.Sign(secret, id, sec, body); err != nil || req.Header.Get("webhook-signature") != want {
			t.Errorf("a delivery to %s does not verify", req.URL.Path)
		}
		r.arrived <- req.URL.Path
		if status == 0 { // hang until the sender goes away
			select {
			case <-req.Context().Done():
			case <-stop:
			}
			return
		}
		var ev struct{ Type string }
		json.Unmarshal(body, &ev)
		r.mu.Lock()
		r.got = append(r.got, e2eDelivery{req.URL.Path, id, ev.Type, status})
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(func() { close(stop); r.srv.Close() })
	return r
}

func (r *e2eReceiver) deliveries(path string) []e2eDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []e2eDelivery
	for _, d := range r.got {
		if d.path == path {
			out = append(out, d)
		}
	}
	return out
}

// TestWebhooksSurviveAReplicaKilledMidDelivery: a server is killed
// (SIGKILL) while a receiver holds its delivery of an event the store
// committed; the next server (the same one restarted on the embedded
// default, another replica on PostgreSQL) delivers it once the dead one's
// lease has run out: nothing is lost. Meanwhile a receiver that answers
// 500 is shown FAILING by `perseus webhooks ls` past --webhook-retry-for;
// `webhooks test` and `webhooks rm` do what they say.
func TestWebhooksSurviveAReplicaKilledMidDelivery(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			flags := []string{"--api-key", "hook-key", "--webhook-allow", "127.0.0.0/8", "--webhook-timeout", "2s",
				"--webhook-retry-for", "1s"}
			dataA, dataB := t.TempDir(), t.TempDir()
			if backend == "postgres" {
				flags = append(flags, "--db", freshSchema(t), "--blobs", testenv.S3URL(t, "e2e-webhooks"))
			} else {
				dataB = dataA // the same server, restarted
			}
			r := newE2EReceiver(t)
			r.status = func(path string, n int) int {
				switch {
				case path == "/failing":
					return http.StatusInternalServerError
				case n == 1 && path == "/killed":
					return 0 // hangs: the server is killed meanwhile
				}
				return http.StatusNoContent
			}
			a := startServer(t, dataA, flags...)
			a.Key = "hook-key"

			add := func(p *serverProc, path string, events string) string {
				out, errOut, code := cli(t, p, "webhooks", "add", r.srv.URL+path, "--events", events, "--json")
				var w struct{ ID, Secret string }
				if code != 0 || json.Unmarshal([]byte(out), &w) != nil || !strings.HasPrefix(w.Secret, "whsec_") {
					t.Fatalf("webhooks add: %d %s %s", code, out, errOut)
				}
				r.mu.Lock()
				r.secrets[path] = w.Secret
				r.mu.Unlock()
				return w.ID
			}
			killedID := add(a, "/killed", "file.uploaded")
			failingID := add(a, "/failing", "file.uploaded")
			if out, errOut, code := cli(t, a, "webhooks", "add", "http://169.254.169.254/latest"); code != 1 || !strings.Contains(errOut, "link-local") {
				t.Errorf("webhooks add of the metadata address: %d %s %s", code, out, errOut)
			}

			dir := t.TempDir()
			path, _ := writeRandom(t, dir, "doc.bin", 64<<10)
			if out, errOut, code := cli(t, a, "file", "upload", path, "--wait", "--json"); code != 0 {
				t.Fatalf("upload: %d %s %s", code, out, errOut)
			}
			deadline := time.After(20 * time.Second)
			for got := ""; got != "/killed"; {
				select {
				case got = <-r.arrived:
				case <-deadline:
					t.Fatal("no delivery arrived at the receiver")
				}
			}
			a.kill(t) // mid-delivery: the event is committed, its delivery not acknowledged
			killedAt := time.Now()

			b := startServer(t, dataB, flags...)
			b.Key = "hook-key"
			waitE2E(t, 30*time.Second, "the event delivered by the next server", func() bool { return len(r.deliveries("/killed")) == 1 })
			t.Logf("delivered %v after the kill (the lease: --webhook-timeout and 5s)", time.Since(killedAt).Round(time.Millisecond))
			if d := r.deliveries("/killed")[0]; d.typ != "file.uploaded" || d.status != http.StatusNoContent || !strings.HasPrefix(d.id, "evt_") {
				t.Errorf("delivered: %+v", d)
			}

			// The receiver that answers 500: FAILING once the event is older
			// than --webhook-retry-for (its second attempt, 5s after the first).
			waitE2E(t, 30*time.Second, "a FAILING webhook in webhooks ls", func() bool {
				out, _, _ := cli(t, b, "webhooks", "ls")
				return strings.Contains(out, "FAILING") && strings.Contains(out, "500")
			})
			out, _, _ := cli(t, b, "webhooks", "ls")
			t.Logf("webhooks ls:\n%s", out)
			lsJSON, _, code := cli(t, b, "webhooks", "ls", "--json")
			var states []struct{ ID, State, FailingSince, LastError string }
			for _, line := range strings.Split(strings.TrimSpace(lsJSON), "\n") {
				var s struct{ ID, State, FailingSince, LastError string }
				json.Unmarshal([]byte(line), &s)
				states = append(states, s)
			}
			if code != 0 || len(states) != 2 || states[0].ID != killedID || states[0].State != "ok" || states[1].ID != failingID ||
				states[1].State != "failing" || states[1].FailingSince == "" {
				t.Errorf("webhooks ls --json: %d\n%s", code, lsJSON)
			}

			if out, errOut, code := cli(t, b, "webhooks", "test", killedID); code != 0 || !strings.Contains(out, "delivered") {
				t.Errorf("webhooks test: %d %s %s", code, out, errOut)
			}
			if out, errOut, code := cli(t, b, "webhooks", "test", failingID); code != 1 || !strings.Contains(out, "500") {
				t.Errorf("webhooks test of the failing receiver: %d %s %s", code, out, errOut)
			}
			if out, errOut, code := cli(t, b, "webhooks", "rm", failingID); code != 0 || !strings.Contains(errOut, failingID) {
				t.Errorf("webhooks rm: %d %s %s", code, out, errOut)
			}
			if out, errOut, code := cli(t, b, "webhooks", "rm", failingID); code != 1 || !strings.Contains(errOut, "no webhook") {
				t.Errorf("webhooks rm again: %d %s %s", code, out, errOut)
			}
			if out, _, _ := cli(t, b, "webhooks", "ls"); strings.Contains(out, failingID) || !strings.Contains(out, killedID) {
				t.Errorf("webhooks ls after rm:\n%s", out)
			}
			if ds := r.deliveries("/killed"); !slices.ContainsFunc(ds, func(d e2eDelivery) bool { return d.typ == "webhook.test" }) {
				t.Errorf("the test event did not arrive: %+v", ds)
			}
		})
	}
}

func waitE2E(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("no %s within %v", what, d)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
