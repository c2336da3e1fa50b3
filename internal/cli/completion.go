package cli

import (
	"context"
	"strings"
	"time"

	"github.com/perseus-go/perseus"
	"github.com/spf13/cobra"
)

// completionBudget bounds the one listing a completion makes: a shell
// must not hang on a slow or absent server.
const completionBudget = 2 * time.Second

// completionLimit is how many of the newest files a completion offers.
const completionLimit = 200

// completeIDs offers the ids of the caller's newest files that start with
// what is typed, each with its name; nothing, silently, when the server
// cannot be asked (no key, down, slow).
func (c *clientFlags) completeIDs(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if err := clientEnv.apply(cmd.Flags()); err != nil || c.apiKey == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	opts := []perseus.Option{perseus.WithAPIKey(c.apiKey), perseus.WithRetry(perseus.RetryPolicy{})}
	if c.host != "" {
		opts = append(opts, perseus.WithHost(c.host))
	}
	cl, err := perseus.NewClient(opts...)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), completionBudget)
	defer cancel()
	page, err := cl.File.ListFilesPage(ctx, perseus.ListOptions{PageSize: completionLimit}, "")
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, f := range page.Files {
		if strings.HasPrefix(f.ID, toComplete) {
			out = append(out, cobra.CompletionWithDesc(f.ID, f.Name))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeStatus offers the values of --status.
func completeStatus(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return []cobra.Completion{
		cobra.CompletionWithDesc(string(perseus.StatusPending), "not verified yet"),
		cobra.CompletionWithDesc(string(perseus.StatusUploaded), "stored and verified"),
		cobra.CompletionWithDesc(string(perseus.StatusFailed), "the upload did not produce the content"),
	}, cobra.ShellCompDirectiveNoFileComp
}
