package cli

import (
	"fmt"
	"strings"

	"github.com/perseus-go/perseus"
	"github.com/spf13/cobra"
)

// eventTypes are the event types, in the order of a file's life, with what
// each says.
var eventTypes = []struct {
	t    perseus.EventType
	desc string
}{
	{perseus.EventFileCreated, "a new file record"},
	{perseus.EventFileUploaded, "its content stored and verified"},
	{perseus.EventFileFailed, "an upload did not produce the declared content"},
	{perseus.EventFileDeleted, "the file was deleted"},
}

func newEventsCmd(cf *clientFlags) *cobra.Command {
	var since int64
	var types []string
	var follow bool
	cmd := &cobra.Command{
		Use:   "events [--since ID] [--type TYPE]... [--follow=false]",
		Short: "Print your files' events (created, uploaded, failed, deleted) as they happen",
		Long: `Print the events of your files' lives, oldest first: those the server keeps
(a week by default), then each new one as it happens, on whichever replica,
until interrupted (Ctrl-C). --follow=false stops after those there are.

Each line is an event's id, its type, and the file's id, status and name;
with --json, the event as the API sends it:
{"id":"7","type":"file.uploaded","timestamp":…,"data":{the file}}.

An event's id is its place in your log (1, 2, 3…): --since ID prints only
the events after it, so that a script that remembers the last id it saw
resumes where it stopped. --type keeps only events of that type
(file.created, file.uploaded, file.failed, file.deleted); repeat it, or
separate types with commas. A dropped connection is opened again after the
last event printed: none is missed, none printed twice.`,
		Example: `  perseus file events
  perseus file events --type file.uploaded --json | jq -r .data.id
  perseus file events --since 1200 --follow=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since < 0 {
				return usageError{fmt.Errorf("--since %d: give the id of an event (0 or more)", since)}
			}
			opts := perseus.EventsOptions{Since: since, NoFollow: !follow}
			for _, list := range types {
				for t := range strings.SplitSeq(list, ",") {
					if t = strings.TrimSpace(t); t == "" {
						continue
					}
					if !knownEventType(t) {
						return usageError{fmt.Errorf("--type %q: use file.created, file.uploaded, file.failed or file.deleted", t)}
					}
					opts.Types = append(opts.Types, perseus.EventType(t))
				}
			}
			c, err := cf.client(cmd)
			if err != nil {
				return err
			}
			out := newPrinter(cmd, cf.json)
			for ev, err := range c.File.Events(cmd.Context(), opts) {
				if err != nil {
					return err
				}
				out.event(ev)
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&since, "since", 0, "only events after the event with this `ID` (the last one seen)")
	cmd.Flags().StringArrayVar(&types, "type", nil, "only events of this `TYPE`: file.created, file.uploaded, file.failed or file.deleted; repeatable, or comma-separated")
	cmd.Flags().BoolVar(&follow, "follow", true, "keep printing events as they happen; false: stop after those there are")
	cmd.RegisterFlagCompletionFunc("type", completeEventType)
	return cmd
}

// knownEventType reports whether t is an event type.
func knownEventType(t string) bool {
	for _, e := range eventTypes {
		if string(e.t) == t {
			return true
		}
	}
	return false
}

// completeEventType offers the values of --type.
func completeEventType(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, e := range eventTypes {
		out = append(out, cobra.CompletionWithDesc(string(e.t), e.desc))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// apiEvent is an Event in the API's own JSON.
type apiEvent struct {
	ID        string            `json:"id"`
	Type      perseus.EventType `json:"type"`
	Timestamp string            `json:"timestamp"`
	Data      apiFile           `json:"data"`
}

// event prints one event: the API's JSON, or a line for people.
func (p *printer) event(ev *perseus.Event) {
	f := ev.File
	if f == nil {
		f = &perseus.File{}
	}
	if p.asJSON {
		p.json(apiEvent{ID: fmt.Sprint(ev.ID), Type: ev.Type, Timestamp: ev.Timestamp.UTC().Format(apiTime), Data: toAPIFile(f)})
		return
	}
	line := fmt.Sprintf("%-6d  %-13s  %s  %-8s  %s", ev.ID, ev.Type, f.ID, f.Status, f.Name)
	if f.Reason != "" {
		line += "  (" + f.Reason + ")"
	}
	p.linef("%s", line)
}
