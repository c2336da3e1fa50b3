package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"text/tabwriter"
	"time"

	"github.com/perseus-go/perseus/internal/backend"
	"github.com/perseus-go/perseus/server"
	"github.com/perseus-go/perseus/store/meta"
	"github.com/spf13/cobra"
)

// tenantPattern is what a tenant name may be: it appears in storage keys.
var tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func newKeysCmd() *cobra.Command {
	var data, db string
	env := envFlags{"data": "PERSEUS_DATA", "db": "PERSEUS_DB"}
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke API keys",
		Long: `Administer API keys against the same --data / --db as the server.
Keys are stored hashed; a new key is printed once and never again.
A revoked key stops working at once, on every replica.`,
		Example: `  KEY=$(perseus keys create --tenant acme)
  perseus keys list
  perseus keys revoke 3f9a0c12e4b5d6a7`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&data, "data", "perseus-data", "`DIR` of the embedded default [PERSEUS_DATA]")
	pf.StringVar(&db, "db", "", "metadata store `URL` (default sqlite under --data) [PERSEUS_DB]")
	open := func(cmd *cobra.Command) (meta.Store, error) {
		if err := env.apply(cmd.Flags()); err != nil {
			return nil, err
		}
		if db == "" {
			db = backend.DefaultDB(data)
		}
		return backend.OpenMeta(cmd.Context(), db)
	}

	var tenant string
	create := &cobra.Command{
		Use:     "create --tenant TENANT",
		Short:   "Create a key for a tenant and print it alone on stdout",
		Example: `  KEY=$(perseus keys create --tenant acme)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" {
				return usageError{errors.New("--tenant is required: the tenant the key belongs to")}
			}
			if !tenantPattern.MatchString(tenant) {
				return usageError{fmt.Errorf("--tenant %q: use 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit", tenant)}
			}
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			key := "pk_" + randomHex(24)
			k := meta.Key{ID: randomHex(8), Tenant: tenant, Hash: server.HashKey(key), CreatedAt: time.Now().UTC()}
			if err := s.PutKey(cmd.Context(), k); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), key)
			fmt.Fprintf(cmd.ErrOrStderr(), "perseus: created key %s for tenant %s\n", k.ID, tenant)
			return nil
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "", "the `TENANT` the key belongs to (required)")

	var asJSON bool
	list := &cobra.Command{
		Use:     "list",
		Short:   "List keys (ids, tenants, dates; never the keys themselves)",
		Example: `  perseus keys list`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			keys, err := s.Keys(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printKeysJSON(cmd, keys)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTENANT\tCREATED\tREVOKED")
			for _, k := range keys {
				revoked := "-"
				if k.RevokedAt != nil {
					revoked = k.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Tenant, k.CreatedAt.Format(time.RFC3339), revoked)
			}
			return tw.Flush()
		},
	}

	list.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per key per line")

	revoke := &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke a key: it stops working at once",
		Example: `  perseus keys revoke 3f9a0c12e4b5d6a7`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.RevokeKey(cmd.Context(), args[0], time.Now().UTC()); err != nil {
				return fmt.Errorf("revoke %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "perseus: revoked key %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// printKeysJSON prints one JSON object per key: id, tenant, createdAt and,
// once revoked, revokedAt (never the key nor its hash).
func printKeysJSON(cmd *cobra.Command, keys []meta.Key) error {
	out := newPrinter(cmd, true)
	for _, k := range keys {
		v := struct {
			ID        string `json:"id"`
			Tenant    string `json:"tenant"`
			CreatedAt string `json:"createdAt"`
			RevokedAt string `json:"revokedAt,omitempty"`
		}{ID: k.ID, Tenant: k.Tenant, CreatedAt: k.CreatedAt.UTC().Format(apiTime)}
		if k.RevokedAt != nil {
			v.RevokedAt = k.RevokedAt.UTC().Format(apiTime)
		}
		out.json(v)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
