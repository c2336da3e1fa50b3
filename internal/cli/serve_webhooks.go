package cli

import (
	"fmt"
	"time"

	"github.com/perseus-go/perseus/internal/webhook"
	"github.com/perseus-go/perseus/server"
	"github.com/spf13/pflag"
)

// webhookFlags are serve's flags of webhook deliveries: which addresses
// they may reach, how long one may take, how long an event is retried.
type webhookFlags struct {
	allow    []string
	retryFor time.Duration
	timeout  time.Duration
	workers  int
}

// register adds the webhook flags to fl and their variables to env.
func (w *webhookFlags) register(fl *pflag.FlagSet, env envFlags) {
	for flag, v := range map[string]string{"webhook-allow": "PERSEUS_WEBHOOK_ALLOW", "webhook-retry-for": "PERSEUS_WEBHOOK_RETRY_FOR",
		"webhook-timeout": "PERSEUS_WEBHOOK_TIMEOUT", "webhook-workers": "PERSEUS_WEBHOOK_WORKERS"} {
		env[flag] = v
	}
	fl.StringSliceVar(&w.allow, "webhook-allow", nil, "let webhooks reach these networks (`CIDR`,…, e.g. 10.20.0.0/16), which are denied by default: loopback, private, link-local and cloud metadata, CGNAT, multicast [PERSEUS_WEBHOOK_ALLOW]")
	fl.DurationVar(&w.retryFor, "webhook-retry-for", 24*time.Hour, "retry an event a receiver does not take for this long before its webhook is marked failing (it is still retried, hourly) [PERSEUS_WEBHOOK_RETRY_FOR]")
	fl.DurationVar(&w.timeout, "webhook-timeout", 10*time.Second, "the longest one webhook delivery may take, answer included; a replica that dies mid-delivery leaves it to another after this and 5s [PERSEUS_WEBHOOK_TIMEOUT]")
	fl.IntVar(&w.workers, "webhook-workers", 4, "`N` webhook deliveries this replica makes at once, to as many endpoints [PERSEUS_WEBHOOK_WORKERS]")
}

// check refuses the flags the server cannot run with, in one line each.
func (w webhookFlags) check() error {
	bad := func(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }
	_, err := webhook.ParseAllow(w.allow)
	switch {
	case err != nil:
		return bad("--webhook-allow: %v", err)
	case w.retryFor <= 0:
		return bad("--webhook-retry-for %v: must be more than 0", w.retryFor)
	case w.timeout <= 0 || w.timeout > 5*time.Minute:
		return bad("--webhook-timeout %v: must be more than 0 and at most 5m", w.timeout)
	case w.workers < 1 || w.workers > 256:
		return bad("--webhook-workers %d: must be from 1 to 256", w.workers)
	}
	return nil
}

// apply sets the flags, checked, in cfg.
func (w webhookFlags) apply(cfg *server.Config) error {
	allow, err := webhook.ParseAllow(w.allow)
	if err != nil {
		return usageError{fmt.Errorf("--webhook-allow: %v", err)}
	}
	cfg.WebhookAllow, cfg.WebhookRetryFor, cfg.WebhookTimeout, cfg.WebhookWorkers = allow, w.retryFor, w.timeout, w.workers
	return nil
}
