package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// The README's receiver, as it stands there (the root package's
// TestREADMESnippetsAreExamples holds the two together), from here:

// verifyWebhook checks a delivery as Standard Webhooks says: a signature
// over id.timestamp.body with the endpoint's secret, and a timestamp
// within five minutes of now, so that an old delivery replayed fails.
func verifyWebhook(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("bad secret: %w", err)
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("no webhook-timestamp")
	}
	if age := time.Since(time.Unix(sec, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp is %v off", age.Round(time.Second))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(h.Get("webhook-signature")) { // "v1,<base64>", space-separated
		if sig, ok := strings.CutPrefix(s, "v1,"); ok {
			if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return errors.New("no valid signature")
}

// handleWebhook takes deliveries: a 2xx answer says it has the event;
// any other, or none within 10s, and the event comes again.
func handleWebhook(secret string, handle func(id, typ string, file json.RawMessage) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || verifyWebhook(secret, r.Header, body) != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var ev struct {
			Type string          `json:"type"` // file.created, file.uploaded, file.failed, file.deleted
			Data json.RawMessage `json:"data"` // the file, as GET /api/v0/file/{id} answers it
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		// webhook-id is the same at every retry of an event: skip one you already have.
		if err := handle(r.Header.Get("webhook-id"), ev.Type, ev.Data); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError) // it comes again later
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// (The README's receiver ends here.)

// TestREADMEReceiver runs the README's receiver against real deliveries: a
// dispatcher's, which it takes, and a forger's, which it refuses: signed
// with another secret, or with a timestamp more than five minutes old.
func TestREADMEReceiver(t *testing.T) {
	secret := NewSecret()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(handleWebhook(secret, func(id, typ string, file json.RawMessage) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, id+" "+typ+" "+string(file))
		return nil
	}))
	defer srv.Close()

	st := newMemStore()
	st.PutWebhook(context.Background(), meta.Webhook{ID: "wh_1", Tenant: "acme", URL: srv.URL, Secret: secret})
	newTestDispatcher(t, st)
	ev := st.add("acme", meta.EventUploaded, meta.File{ID: "f1"})
	waitFor(t, "the delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	if want := EventID(ev) + " file.uploaded " + `{"id":"f1"}`; got[0] != want {
		t.Fatalf("the receiver got %q, want %q", got[0], want)
	}

	post := func(secret string, at time.Time, body []byte) int {
		req, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(body))
		SetHeaders(req.Header, secret, "evt_forged", at, body)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	body := []byte(`{"type":"file.deleted","timestamp":"2026-01-01T00:00:00.000Z","data":{"id":"f1"}}`)
	if s := post(secret, time.Now(), body); s != http.StatusNoContent {
		t.Errorf("signed with the secret, now: %d, want 204", s)
	}
	if s := post(NewSecret(), time.Now(), body); s != http.StatusUnauthorized {
		t.Errorf("signed with another secret: %d, want 401", s)
	}
	if s := post(secret, time.Now().Add(-5*time.Minute-10*time.Second), body); s != http.StatusUnauthorized {
		t.Errorf("signed with the secret more than five minutes ago: %d, want 401", s)
	}
	if s := post(secret, time.Now().Add(10*time.Minute), body); s != http.StatusUnauthorized {
		t.Errorf("signed with the secret ten minutes from now: %d, want 401", s)
	}
	req, _ := http.NewRequest("POST", srv.URL, bytes.NewReader([]byte(`{"type":"file.deleted","data":{"id":"f2"}}`)))
	SetHeaders(req.Header, secret, "evt_forged", time.Now(), body) // the signature of another body
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a body that is not the one signed: %v %v, want 401", res.StatusCode, err)
	}
	if err := verifyWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", http.Header{
		"Webhook-Id": {"msg_p5jXN8AQM9LWM0D4loKWxJek"}, "Webhook-Timestamp": {"1614265330"},
		"Webhook-Signature": {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}}, []byte(`{"test": 2432232314}`)); err == nil ||
		!strings.Contains(err.Error(), "off") {
		t.Errorf("the spec's vector, signed in 2021: %v, want refused for its age", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Errorf("the receiver took %d deliveries, want 2: %q", len(got), got)
	}
}
