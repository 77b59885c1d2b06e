package main

import (
	"fmt"
	"io"

	"gopkg.in/yaml.v3"

	"github.com/imagegate/imagegate/config"
)

// configCheck validates a configuration file (with the environment
// overlay) and prints the effective configuration, secrets redacted.
func configCheck(args []string, stdout io.Writer, environ []string) error {
	if len(args) != 1 {
		return errUsage
	}
	cfg, err := config.Load(args[0], environ)
	if err != nil {
		return err
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("printing config: %w", err)
	}
	fmt.Fprintf(stdout, "# %s is valid; effective configuration:\n%s", args[0], out)
	return nil
}
