package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/spf13/cobra"
)

func newWebhooksCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "webhooks",
		Short: "Add, list, remove and test the endpoints that receive your events",
		Long: `Webhooks send your tenant's events (file.created, file.uploaded,
file.failed, file.deleted) to URLs you register, as signed POSTs of JSON
(Standard Webhooks: webhook-id, webhook-timestamp and webhook-signature, an
HMAC-SHA256 with the endpoint's secret). Each endpoint receives its events
in order, at least once: a receiver that does not answer 2xx gets the event
again, with growing pauses; one that has failed for longer than the
server's retry window (24h by default) is shown FAILING by 'ls', and is
still retried, hourly, until it takes the event or is removed.

'add' prints the endpoint's signing secret alone on stdout: it is shown
once, never again. Like 'file', these commands read PERSEUS_API_HOST and
LETTRIA_API_KEY.`,
		Example: `  SECRET=$(perseus webhooks add https://hooks.example.com/perseus --events file.uploaded,file.failed)
  perseus webhooks ls
  perseus webhooks test wh_3f9a0c12e4b5d6a7
  perseus webhooks rm wh_3f9a0c12e4b5d6a7`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&cf.host, "host", "", "API base `URL` [PERSEUS_API_HOST]")
	pf.StringVar(&cf.apiKey, "api-key", "", "API `KEY` [LETTRIA_API_KEY]")
	pf.BoolVar(&cf.json, "json", false, "print one JSON object per webhook per line, as the API answers it")
	pf.DurationVar(&cf.retryFor, "retry-for", perseus.DefaultRetry.MaxElapsed, "retry a request that failed for a reason a retry can fix for this long (never add or test: they are sent once); 0 disables retries [PERSEUS_RETRY_FOR]")

	var events []string
	add := &cobra.Command{
		Use:   "add URL [--events TYPE,…]",
		Short: "Register an endpoint; print its signing secret (shown once)",
		Long: `Register URL to receive your events: those of --events, or all of them.
The server refuses a URL whose host is an address it does not let webhooks
reach (loopback, private and link-local networks unless its operator
allowed them), and says why.`,
		Example: `  perseus webhooks add https://hooks.example.com/perseus --events file.uploaded,file.failed`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			w, err := c.Webhooks.Add(cmd.Context(), args[0], events...)
			if err != nil {
				return err
			}
			if cf.json {
				newPrinter(cmd, true).json(toAPIWebhook(w, true))
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), w.Secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "perseus: added webhook %s for %s (%s); its signing secret, above, is shown only once\n",
				w.ID, w.URL, strings.Join(w.Events, ", "))
			return nil
		},
	}
	add.Flags().StringSliceVar(&events, "events", nil, "the event `TYPES` it receives, comma-separated: file.created, file.uploaded, file.failed, file.deleted (default all)")

	ls := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List your webhooks and how their deliveries go",
		Example: `  perseus webhooks ls`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			hooks, err := c.Webhooks.List(cmd.Context())
			if err != nil {
				return err
			}
			if cf.json {
				out := newPrinter(cmd, true)
				for i := range hooks {
					out.json(toAPIWebhook(&hooks[i], false))
				}
				return nil
			}
			printWebhooks(cmd, hooks)
			return nil
		},
	}

	rm := &cobra.Command{
		Use:     "rm ID",
		Aliases: []string{"remove"},
		Short:   "Remove a webhook: it receives nothing more",
		Example: `  perseus webhooks rm wh_3f9a0c12e4b5d6a7`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			if err := c.Webhooks.Remove(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "perseus: removed webhook %s\n", args[0])
			return nil
		},
	}

	test := &cobra.Command{
		Use:   "test ID",
		Short: "Send the endpoint a signed webhook.test event now, and say how it answered",
		Long: `Send the endpoint a signed webhook.test event now, outside its queue of
events (nothing is retried), and print what the receiver answered and how
long it took. The exit status is 1 when it did not answer 2xx.`,
		Example: `  perseus webhooks test wh_3f9a0c12e4b5d6a7`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			r, err := c.Webhooks.Test(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			took := (time.Duration(r.DurationMs) * time.Millisecond).String()
			switch {
			case cf.json:
				newPrinter(cmd, true).json(r)
			case r.Delivered:
				fmt.Fprintf(cmd.OutOrStdout(), "delivered: the receiver answered %d in %s (webhook-id %s)\n", r.Status, took, r.ID)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "not delivered, after %s: %s\n", took, r.Error)
			}
			if !r.Delivered {
				return errSilent
			}
			return nil
		},
	}
	cmd.AddCommand(add, ls, rm, test)
	for _, sub := range cmd.Commands() {
		run := sub.RunE
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			err := cf.explain(cmd.Context(), run(cmd, args))
			if routeMissing(err) {
				return fmt.Errorf("the server at %s offers no webhooks (it answers 404 to /api/v0/webhooks): it is older than this client\n  (%w)", cf.hostShown(), err)
			}
			if errors.Is(err, perseus.ErrNotFound) && len(args) == 1 && sub != add {
				return fmt.Errorf("no webhook %s: 'perseus webhooks ls' lists yours\n  (%w)", args[0], err)
			}
			return err
		}
	}
	return cmd
}

// apiWebhook is a webhook in the API's own JSON (times with three
// fractional digits), so that --json prints what the API answered.
type apiWebhook struct {
	ID            string   `json:"id"`
	URL           string   `json:"url"`
	Events        []string `json:"events"`
	Secret        string   `json:"secret,omitempty"`
	CreatedAt     string   `json:"createdAt"`
	State         string   `json:"state,omitempty"`
	Cursor        *int64   `json:"cursor,omitempty"`
	Attempts      *int     `json:"attempts,omitempty"`
	NextAttemptAt string   `json:"nextAttemptAt,omitempty"`
	FailingSince  string   `json:"failingSince,omitempty"`
	LastError     string   `json:"lastError,omitempty"`
}

func toAPIWebhook(w *perseus.Webhook, created bool) apiWebhook {
	a := apiWebhook{ID: w.ID, URL: w.URL, Events: w.Events, Secret: w.Secret, CreatedAt: w.CreatedAt.UTC().Format(apiTime)}
	if created {
		return a
	}
	a.State, a.Cursor, a.Attempts, a.LastError = w.State, &w.Cursor, &w.Attempts, w.LastError
	if !w.NextAttemptAt.IsZero() {
		a.NextAttemptAt = w.NextAttemptAt.UTC().Format(apiTime)
	}
	if !w.FailingSince.IsZero() {
		a.FailingSince = w.FailingSince.UTC().Format(apiTime)
	}
	return a
}

// printWebhooks prints a table of webhooks for people: a failing one in
// capitals, and under each that is not ok, since when, how many attempts,
// when the next, and the last error.
func printWebhooks(cmd *cobra.Command, hooks []perseus.Webhook) {
	if len(hooks) == 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), "perseus: no webhooks; add one with 'perseus webhooks add URL'")
		return
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tEVENTS\tURL")
	for _, w := range hooks {
		state := w.State
		if state == "failing" {
			state = "FAILING"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", w.ID, state, strings.Join(w.Events, ","), w.URL)
	}
	tw.Flush()
	for _, w := range hooks {
		if w.Attempts == 0 && w.FailingSince.IsZero() {
			continue
		}
		var what []string
		if !w.FailingSince.IsZero() {
			what = append(what, "failing since "+w.FailingSince.Local().Format(time.RFC3339))
		}
		if w.Attempts == 1 {
			what = append(what, "1 failed attempt")
		} else {
			what = append(what, fmt.Sprintf("%d failed attempts", w.Attempts))
		}
		if !w.NextAttemptAt.IsZero() {
			what = append(what, "next "+w.NextAttemptAt.Local().Format(time.RFC3339))
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %s: %s\n", w.ID, strings.Join(what, ", "), w.LastError)
	}
}
