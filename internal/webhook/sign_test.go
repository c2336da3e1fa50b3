package webhook

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSignMatchesTheStandardWebhooksVector: the test vector the Standard
// Webhooks reference libraries sign, reproduced exactly, so that a
// receiver using any of them verifies what we send.
func TestSignMatchesTheStandardWebhooksVector(t *testing.T) {
	sig, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; err != nil || sig != want {
		t.Fatalf("Sign = %q, %v; want %q", sig, err, want)
	}
	if _, err := Sign("whsec_not base64!", "id", 1, nil); err == nil {
		t.Error("Sign with a secret that is not base64: no error")
	}
}

func TestNewSecretAndHeaders(t *testing.T) {
	s := NewSecret()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if !strings.HasPrefix(s, "whsec_") || err != nil || len(key) != 32 {
		t.Fatalf("NewSecret = %q: want whsec_ and the base64 of 32 bytes (%d, %v)", s, len(key), err)
	}
	if NewSecret() == s {
		t.Fatal("two secrets alike")
	}
	h := http.Header{}
	at := time.Unix(1700000000, 0)
	if err := SetHeaders(h, s, "evt_1", at, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	want, _ := Sign(s, "evt_1", 1700000000, []byte("{}"))
	if h.Get("webhook-id") != "evt_1" || h.Get("webhook-timestamp") != "1700000000" || h.Get("webhook-signature") != want ||
		h.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", h)
	}
}
