package main

import (
	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/config"
)

// configFlag adds --config FILE to cmd, usage describing the file, and
// returns a loader: config.Load of that file (none: the built-in
// defaults) with environ's IMAGEGATE_* variables over it, and the path.
func configFlag(cmd *cobra.Command, usage string, environ []string) func() (*config.Config, string, error) {
	path := cmd.Flags().String("config", "", usage)
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return func() (*config.Config, string, error) {
		cfg, err := config.Load(*path, environ)
		return cfg, *path, err
	}
}
