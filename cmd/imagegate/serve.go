package main

import (
	"context"
	"flag"
	"io"
	"os/signal"
	"syscall"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/buildinfo"
	"github.com/imagegate/imagegate/registry"
)

// serve runs the registry until SIGTERM or SIGINT, then drains it.
func serve(ctx context.Context, args []string, stdout io.Writer, environ []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "", "YAML configuration `file` (default: built-in defaults)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	cfg, err := config.Load(*path, environ)
	if err != nil {
		return err
	}
	logger := registry.NewLogger(stdout, cfg.Log.Level)
	logger.Info("starting", "version", buildinfo.String(), "config", *path)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := registry.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}
