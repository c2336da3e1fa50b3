package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// Errors of registering and finding webhooks (besides ErrDenied and
// ErrInvalidURL of the URL's check).
var (
	// ErrNotFound: the tenant has no webhook with this id.
	ErrNotFound = errors.New("webhook: no such webhook")
	// ErrTooMany: the tenant has as many webhooks as it may.
	ErrTooMany = errors.New("webhook: too many webhooks")
)

// Add registers a webhook of tenant's at url for events of types (all
// when empty), after checking that url may be delivered to; it returns the
// webhook with its secret, which nothing shows again. A tenant has at most
// max webhooks (ErrTooMany).
func (d *Dispatcher) Add(ctx context.Context, tenant, url string, types []meta.EventType, max int) (meta.Webhook, error) {
	if err := d.cfg.Guard.CheckURL(ctx, nil, url); err != nil {
		return meta.Webhook{}, err
	}
	have, err := d.cfg.Store.Webhooks(ctx, tenant)
	if err != nil {
		return meta.Webhook{}, err
	}
	if len(have) >= max {
		return meta.Webhook{}, fmt.Errorf("%w: you have %d webhooks, the most a tenant may have; remove one first", ErrTooMany, len(have))
	}
	hook := meta.Webhook{Tenant: tenant, URL: url, Types: types, Secret: NewSecret(), CreatedAt: time.Now().UTC()}
	for range 3 { // an id taken already: another
		hook.ID = "wh_" + randomHex(8)
		got, err := d.cfg.Store.PutWebhook(ctx, hook)
		if !errors.Is(err, meta.ErrExists) {
			return got, err
		}
	}
	return meta.Webhook{}, errors.New("webhook: no free id after 3 tries")
}

// List returns tenant's webhooks, oldest first.
func (d *Dispatcher) List(ctx context.Context, tenant string) ([]meta.Webhook, error) {
	return d.cfg.Store.Webhooks(ctx, tenant)
}

// Remove removes tenant's webhook id, or fails with ErrNotFound.
func (d *Dispatcher) Remove(ctx context.Context, tenant, id string) error {
	err := d.cfg.Store.DeleteWebhook(ctx, tenant, id)
	if errors.Is(err, meta.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// Test sends tenant's webhook id a signed test event whose body body
// makes of it, now and outside its outbox (its cursor does not move and
// nothing is retried), and returns the event's id and how the receiver
// took it.
func (d *Dispatcher) Test(ctx context.Context, tenant, id string, body func(meta.Webhook) []byte) (string, Result, error) {
	hooks, err := d.cfg.Store.Webhooks(ctx, tenant)
	if err != nil {
		return "", Result{}, err
	}
	i := slices.IndexFunc(hooks, func(h meta.Webhook) bool { return h.ID == id })
	if i < 0 {
		return "", Result{}, ErrNotFound
	}
	evt := "evt_test_" + randomHex(8)
	return evt, d.send.Send(ctx, hooks[i].URL, hooks[i].Secret, evt, body(hooks[i])), nil
}
