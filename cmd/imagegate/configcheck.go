package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/imagegate/imagegate/config"
)

// newConfigCmd is `imagegate config`, which holds `config check FILE`.
func newConfigCmd(environ []string) *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "config",
		Short: "Check a configuration file",
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate FILE with the IMAGEGATE_* environment, print the effective config",
		Long: `Validate FILE with the IMAGEGATE_* environment over it, as serve would load it,
and print the effective configuration (secrets redacted). Exit status 1 when
the configuration is invalid.`,
		Example: `  imagegate config check imagegate.yaml
  IMAGEGATE_HTTP_ADDR=0.0.0.0:5000 imagegate config check imagegate.yaml`,
		Args: positional("FILE"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return []cobra.Completion{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return configCheck(args[0], cmd.OutOrStdout(), environ)
		},
	})
	return cmd
}

// configCheck validates a configuration file (with the environment
// overlay) and prints the effective configuration, secrets redacted.
func configCheck(path string, stdout io.Writer, environ []string) error {
	cfg, err := config.Load(path, environ)
	if err != nil {
		return err
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("printing config: %w", err)
	}
	fmt.Fprintf(stdout, "# %s is valid; effective configuration:\n%s", path, out)
	return nil
}
