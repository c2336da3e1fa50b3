package sdktest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/server"
)

// TestWebhookService: the SDK adds, lists, tests and removes webhooks; a
// refused URL is an APIError saying why; Add and Test are sent once, even
// where a retry would fix the answer (a retried Add could register twice).
func TestWebhookService(t *testing.T) {
	e := newEnv(t, nil, func(c *server.Config) { c.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	var got atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer recv.Close()
	ctx := context.Background()
	c := e.client(nil)

	w, err := c.Webhooks.Add(ctx, recv.URL+"/hooks", perseus.EventFileUploaded, perseus.EventFileFailed)
	if err != nil || !strings.HasPrefix(w.ID, "wh_") || !strings.HasPrefix(w.Secret, "whsec_") || w.URL != recv.URL+"/hooks" ||
		len(w.Events) != 2 || time.Since(w.CreatedAt) > time.Minute {
		t.Fatalf("Add = %+v, %v", w, err)
	}
	all, err := c.Webhooks.Add(ctx, recv.URL+"/all")
	if err != nil || len(all.Events) != 4 {
		t.Fatalf("Add without events = %+v, %v", all, err)
	}
	list, err := c.Webhooks.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != w.ID || list[0].Secret != "" || list[0].State != "ok" || list[1].ID != all.ID {
		t.Fatalf("List = %+v, %v", list, err)
	}
	r, err := c.Webhooks.Test(ctx, w.ID)
	if err != nil || !r.Delivered || r.Status != http.StatusAccepted || !strings.HasPrefix(r.ID, "evt_") || got.Load() != 1 {
		t.Fatalf("Test = %+v, %v (the receiver got %d)", r, err, got.Load())
	}

	_, err = c.Webhooks.Add(ctx, "http://169.254.169.254/latest/meta-data")
	var ae *perseus.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || ae.Code != "webhook_address_denied" || !strings.Contains(ae.Message, "link-local") {
		t.Errorf("Add of the metadata address: %v", err)
	}

	e.inject(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/api/v0/webhooks") && r.Method == http.MethodPost {
			http.Error(w, `{"code":"unavailable","message":"down"}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	before := e.count("POST /api/v0/webhooks")
	if _, err := c.Webhooks.Add(ctx, recv.URL+"/again"); err == nil || e.count("POST /api/v0/webhooks") != before+1 {
		t.Errorf("Add answered 503: %v after %d requests, want an error after 1", err, e.count("POST /api/v0/webhooks")-before)
	}
	if _, err := c.Webhooks.Test(ctx, w.ID); err == nil || e.count("POST /api/v0/webhooks/"+w.ID+"/test") != 2 {
		t.Errorf("Test answered 503: %v after %d requests, want an error after 1", err, e.count("POST /api/v0/webhooks/"+w.ID+"/test")-1)
	}

	if err := c.Webhooks.Remove(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Webhooks.Remove(ctx, w.ID); !errors.Is(err, perseus.ErrNotFound) {
		t.Errorf("Remove again = %v, want ErrNotFound", err)
	}
	if list, _ := c.Webhooks.List(ctx); len(list) != 1 || list[0].ID != all.ID {
		t.Errorf("List after Remove = %+v", list)
	}
}
