package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/perseus-go/perseus/internal/webhook"
	"github.com/perseus-go/perseus/store/meta"
)

// Webhooks: a tenant registers endpoints (POST /api/v0/webhooks) that
// receive its events, each a signed POST of Standard Webhooks
// (internal/webhook), delivered by the Dispatcher that Run runs.

// EventTest is the type of the event POST /api/v0/webhooks/{id}/test sends.
const EventTest = "webhook.test"

// hookEvent is an event as webhooks receive it, in Standard Webhooks'
// shape: its type, when it happened, and its data: for a file's event, the
// File as GET /api/v0/file/{id} answers it (as the change left it; as it
// was, for a delete).
type hookEvent struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// webhookPayload returns the body of ev's delivery.
func webhookPayload(ev meta.Event) ([]byte, error) {
	return json.Marshal(hookEvent{Type: string(ev.Type), Timestamp: ev.At.UTC().Format(TimeFormat), Data: toFile(ev.File)})
}

// newWebhooks makes the dispatcher of cfg's webhooks, when the metadata
// store keeps them (every shipped store does).
func (s *Server) newWebhooks() error {
	st, ok := webhook.StoreOf(s.cfg.Meta)
	if !ok {
		return nil
	}
	d, err := webhook.New(webhook.Config{
		Store: st, Payload: webhookPayload, Guard: webhook.Guard{Allow: s.cfg.WebhookAllow},
		Workers: s.cfg.WebhookWorkers, Timeout: s.cfg.WebhookTimeout, Lease: s.cfg.WebhookLease,
		RetryFor: s.cfg.WebhookRetryFor, RetryDelays: s.cfg.WebhookRetryDelays,
		UserAgent: "Perseus-Webhooks/" + s.cfg.Version, Logger: s.cfg.Logger,
	})
	if err != nil {
		return err
	}
	s.hooks = d
	return nil
}

// webhookJSON is a webhook as the API shows it: never its secret, but
// once, in the answer that creates it.
type webhookJSON struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Secret    string   `json:"secret,omitempty"`
	CreatedAt string   `json:"createdAt"`
}

// webhookState is a webhook with the state of its deliveries.
type webhookState struct {
	webhookJSON
	// State is "ok" (nothing failed), "retrying" (the next event failed,
	// and is retried) or "failing" (it has failed for longer than the
	// retry window, and is still retried, at longer intervals).
	State         string `json:"state"`
	Cursor        int64  `json:"cursor"`
	Attempts      int    `json:"attempts"`
	NextAttemptAt string `json:"nextAttemptAt,omitempty"`
	FailingSince  string `json:"failingSince,omitempty"`
	LastError     string `json:"lastError,omitempty"`
}

func toWebhook(w meta.Webhook) webhookJSON {
	types := w.Types
	if len(types) == 0 {
		types = meta.EventTypes
	}
	events := make([]string, len(types))
	for i, t := range types {
		events[i] = string(t)
	}
	return webhookJSON{ID: w.ID, URL: w.URL, Events: events, CreatedAt: w.CreatedAt.UTC().Format(TimeFormat)}
}

func toWebhookState(w meta.Webhook) webhookState {
	out := webhookState{webhookJSON: toWebhook(w), State: "ok", Cursor: w.Cursor, Attempts: w.Attempts, LastError: w.LastError}
	if w.Attempts > 0 {
		out.State = "retrying"
		out.NextAttemptAt = w.NextAttemptAt.UTC().Format(TimeFormat)
	}
	if w.FailingSince != nil {
		out.State = "failing"
		out.FailingSince = w.FailingSince.UTC().Format(TimeFormat)
	}
	return out
}

type webhookRequest struct {
	URL    *string  `json:"url"`
	Events []string `json:"events"`
}

// eventTypes checks the event types a webhook asks for: each one of
// meta.EventTypes, each once; none is all of them (nil).
func eventTypes(names []string) ([]meta.EventType, *Error) {
	var out []meta.EventType
	for _, n := range names {
		t := meta.EventType(n)
		if !slices.Contains(meta.EventTypes, t) {
			return nil, ErrInvalidEvents.With("events: %q is no event type; %s", n, ErrInvalidEvents.Message)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *Server) handleWebhookCreate(w http.ResponseWriter, r *http.Request) {
	var req webhookRequest
	if e := decode(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.URL == nil || *req.URL == "" {
		writeError(w, ErrInvalidWebhookURL.With("url is missing; %s", ErrInvalidWebhookURL.Message))
		return
	}
	types, e := eventTypes(req.Events)
	if e != nil {
		writeError(w, e)
		return
	}
	hook, err := s.hooks.Add(r.Context(), tenantOf(r), *req.URL, types, s.cfg.MaxWebhooks)
	switch {
	case errors.Is(err, webhook.ErrDenied):
		writeError(w, ErrWebhookDenied.With("%s", strings.TrimPrefix(err.Error(), "webhook: ")))
		return
	case errors.Is(err, webhook.ErrInvalidURL):
		writeError(w, ErrInvalidWebhookURL.With("%s", strings.TrimPrefix(err.Error(), webhook.ErrInvalidURL.Error()+": ")))
		return
	case errors.Is(err, webhook.ErrTooMany):
		writeError(w, ErrTooManyWebhooks.With("%s", strings.TrimPrefix(err.Error(), webhook.ErrTooMany.Error()+": ")))
		return
	case err != nil:
		s.storeError(w, r, "create webhook", err)
		return
	}
	out := toWebhook(hook)
	out.Secret = hook.Secret
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleWebhookList(w http.ResponseWriter, r *http.Request) {
	hooks, err := s.hooks.List(r.Context(), tenantOf(r))
	if err != nil {
		s.storeError(w, r, "webhooks", err)
		return
	}
	out := struct {
		Webhooks []webhookState `json:"webhooks"`
	}{Webhooks: make([]webhookState, len(hooks))}
	for i, h := range hooks {
		out.Webhooks[i] = toWebhookState(h)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleWebhookDelete(w http.ResponseWriter, r *http.Request) {
	err := s.hooks.Remove(r.Context(), tenantOf(r), r.PathValue("id"))
	switch {
	case errors.Is(err, webhook.ErrNotFound):
		writeError(w, ErrWebhookNotFound)
	case err != nil:
		s.storeError(w, r, "delete webhook", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// webhookTestResult is what POST /api/v0/webhooks/{id}/test answers: how
// the receiver took a webhook.test event.
type webhookTestResult struct {
	ID         string `json:"id"` // the webhook-id it was sent with
	Delivered  bool   `json:"delivered"`
	Status     int    `json:"status"` // the receiver's HTTP status; 0 when it did not answer
	DurationMs int64  `json:"durationMs"`
	Error      string `json:"error,omitempty"`
}

// handleWebhookTest sends the webhook a signed webhook.test event now,
// outside its outbox (its cursor does not move; nothing is retried), and
// answers how the receiver took it.
func (s *Server) handleWebhookTest(w http.ResponseWriter, r *http.Request) {
	id, res, err := s.hooks.Test(r.Context(), tenantOf(r), r.PathValue("id"), func(hook meta.Webhook) []byte {
		body, _ := json.Marshal(hookEvent{Type: EventTest, Timestamp: time.Now().UTC().Format(TimeFormat),
			Data: map[string]string{"webhookId": hook.ID, "url": hook.URL}})
		return body
	})
	switch {
	case errors.Is(err, webhook.ErrNotFound):
		writeError(w, ErrWebhookNotFound)
		return
	case err != nil:
		s.storeError(w, r, "webhooks", err)
		return
	}
	if r.Context().Err() != nil {
		return // the client went away
	}
	out := webhookTestResult{ID: id, Delivered: res.OK(), Status: res.Status, DurationMs: res.Duration.Milliseconds()}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}

// runWebhooks delivers webhooks until ctx ends (Run).
func (s *Server) runWebhooks(ctx context.Context) {
	if s.hooks != nil {
		s.hooks.Run(ctx)
	}
}
