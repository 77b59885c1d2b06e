package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata/sqlstore"
	"github.com/imagegate/imagegate/registry"
)

// newMetadataCmd is `imagegate metadata`, which holds `metadata migrate`.
func newMetadataCmd(environ []string) *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "metadata",
		Short: "Manage the metadata database (docs/metadata-sql.md)",
	})
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the PostgreSQL or MySQL schema to this version's, then exit",
		Long: `Apply the schema migrations of metadata.driver postgres or mysql that the
database lacks, under the database's migration lock (replicas starting at the
same time wait for it), and print the versions. serve does the same at start;
this command lets a deployment migrate first, with a user allowed DDL. Running
it again changes nothing. A database migrated by a newer imagegate is refused.`,
		Example:           `  IMAGEGATE_METADATA_SQL_DSN=postgres://admin@db:5432/imagegate imagegate metadata migrate --config imagegate.yaml`,
		Args:              positional(),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	runWithConfig(migrate, "YAML configuration `file` (default: built-in defaults)", environ,
		func(cmd *cobra.Command, cfg *config.Config, _ string) error {
			return metadataMigrate(cmd.Context(), cfg, cmd.OutOrStdout())
		})
	cmd.AddCommand(migrate)
	return cmd
}

// metadataMigrate migrates the configured SQL database and prints what
// it did.
func metadataMigrate(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	if d := cfg.Metadata.Driver; d != sqlstore.Postgres && d != sqlstore.MySQL {
		return fmt.Errorf("metadata.driver is %q: migrations are for postgres and mysql (bolt and dynamodb need none)", d)
	}
	m, err := sqlstore.Migrate(ctx, registry.SQLConfig(cfg.Metadata))
	if err != nil {
		return err
	}
	if m.From == m.To {
		fmt.Fprintf(stdout, "%s schema is at version %d: nothing to do\n", cfg.Metadata.Driver, m.To)
		return nil
	}
	fmt.Fprintf(stdout, "%s schema migrated from version %d to %d\n", cfg.Metadata.Driver, m.From, m.To)
	return nil
}
