package perseus

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// The event types a webhook may receive (a server may add more).
const (
	EventFileCreated  = "file.created"
	EventFileUploaded = "file.uploaded"
	EventFileFailed   = "file.failed"
	EventFileDeleted  = "file.deleted"
)

// Webhook is an endpoint that receives the tenant's events: signed POSTs
// of Standard Webhooks (https://www.standardwebhooks.com/), delivered at
// least once, in order.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Secret    string    `json:"secret,omitempty"` // the signing secret: only in the answer of Add, never again
	CreatedAt time.Time `json:"createdAt"`

	// The state of its deliveries (List): "ok"; "retrying" when its next
	// event failed and is retried; "failing" when that has gone on past
	// the server's retry window (it is still retried, less often).
	State         string    `json:"state,omitempty"`
	Cursor        int64     `json:"cursor,omitempty"`   // the tenant's last event it took
	Attempts      int       `json:"attempts,omitempty"` // failed attempts at the next event
	NextAttemptAt time.Time `json:"nextAttemptAt,omitzero"`
	FailingSince  time.Time `json:"failingSince,omitzero"`
	LastError     string    `json:"lastError,omitempty"`
}

// WebhookTest is how a receiver took a test event (WebhookService.Test).
type WebhookTest struct {
	ID         string `json:"id"`        // the webhook-id it was sent with
	Delivered  bool   `json:"delivered"` // the receiver answered 2xx
	Status     int    `json:"status"`    // the receiver's HTTP status; 0 when it did not answer
	DurationMs int64  `json:"durationMs"`
	Error      string `json:"error,omitempty"` // why it was not delivered
}

// WebhookService is the webhooks API: client.Webhooks.
type WebhookService struct {
	client *Client
}

// Add registers url to receive the tenant's events of the given types (all
// of them when none is given). The answer holds the signing secret, which
// is never shown again. It is sent once, never retried, lest a retry
// register the endpoint twice.
func (s *WebhookService) Add(ctx context.Context, endpoint string, events ...string) (*Webhook, error) {
	var w Webhook
	body := map[string]any{"url": endpoint, "events": events}
	if events == nil {
		body["events"] = []string{}
	}
	if err := s.client.callOnce(ctx, http.MethodPost, "/api/v0/webhooks", body, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// List returns the tenant's webhooks, oldest first, with the state of
// their deliveries (without their secrets).
func (s *WebhookService) List(ctx context.Context) ([]Webhook, error) {
	var out struct {
		Webhooks []Webhook `json:"webhooks"`
	}
	if err := s.client.call(ctx, http.MethodGet, "/api/v0/webhooks", nil, &out); err != nil {
		return nil, err
	}
	return out.Webhooks, nil
}

// Remove removes a webhook: it receives nothing more. An unknown id
// matches ErrNotFound.
func (s *WebhookService) Remove(ctx context.Context, id string) error {
	return s.client.call(ctx, http.MethodDelete, "/api/v0/webhooks/"+url.PathEscape(id), nil, nil)
}

// Test has the server send the webhook a signed webhook.test event now,
// and says how the receiver took it. It is sent once, never retried.
func (s *WebhookService) Test(ctx context.Context, id string) (*WebhookTest, error) {
	var t WebhookTest
	if err := s.client.callOnce(ctx, http.MethodPost, "/api/v0/webhooks/"+url.PathEscape(id)+"/test", nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// callOnce is call in one attempt: what it sends is not sent again.
func (c *Client) callOnce(ctx context.Context, method, path string, body, out any) error {
	r := request{method: method, path: path, body: body, header: map[string]string{"Accept": "application/json"}, once: true}
	return c.do(ctx, r, func(resp *http.Response) error {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("perseus: decode %s %s answer: %w", method, path, err)
		}
		return nil
	})
}
