package main

import (
	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/config"
)

// runWithConfig adds --config FILE to cmd (usage describing the file)
// and makes cmd run do with that configuration: config.Load of the file
// (none: the built-in defaults) with environ's IMAGEGATE_* variables over
// it. path is the file's ("" for none).
func runWithConfig(cmd *cobra.Command, usage string, environ []string, do func(cmd *cobra.Command, cfg *config.Config, path string) error) *cobra.Command {
	path := cmd.Flags().String("config", "", usage)
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := config.Load(*path, environ)
		if err != nil {
			return err
		}
		return do(cmd, cfg, *path)
	}
	return cmd
}
