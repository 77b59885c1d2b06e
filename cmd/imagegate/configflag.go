package main

import (
	"flag"

	"github.com/imagegate/imagegate/config"
)

// loadConfigFlag parses args of a command whose only flag is --config
// (usage describes the file) and loads that configuration over the
// defaults and environ; it returns the file's path too ("" for none).
// Positional arguments are a usage error.
func loadConfigFlag(command, usage string, args, environ []string) (*config.Config, string, error) {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	path := fs.String("config", "", usage)
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if fs.NArg() > 0 {
		return nil, "", errUsage
	}
	cfg, err := config.Load(*path, environ)
	return cfg, *path, err
}
