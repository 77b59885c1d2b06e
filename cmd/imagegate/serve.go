package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/buildinfo"
	"github.com/imagegate/imagegate/registry"
)

// serve runs the registry until SIGTERM or SIGINT, then drains it.
func serve(ctx context.Context, args []string, stdout io.Writer, environ []string) error {
	cfg, path, err := loadConfigFlag("serve", "YAML configuration `file` (default: built-in defaults)", args, environ)
	if err != nil {
		return err
	}
	logger := registry.NewConfiguredLogger(stdout, cfg.Log)
	logger.Info("starting", "version", buildinfo.String(), "config", path)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// One replica at a time prepares the bucket; the others skip it.
	opts := []registry.Option{registry.WithStartTask("s3-prepare", func(ctx context.Context) error {
		return prepareBucketAtStart(ctx, cfg, logger)
	})}
	scanner, err := openScanner(ctx, cfg.Scan, logger)
	if err != nil {
		return err
	}
	if scanner != nil {
		defer scanner.Close()
		opts = append(opts, registry.WithScanner(scanner))
	}
	srv, err := registry.New(ctx, cfg, logger, opts...)
	if err != nil {
		return err
	}
	go reloadOnHangup(ctx, srv, path, environ, logger)
	return srv.Run(ctx)
}

// reloadOnHangup re-reads the configuration on SIGHUP and applies what can
// change while serving (see Server.Reload). A broken file changes nothing.
func reloadOnHangup(ctx context.Context, srv *registry.Server, path string, environ []string, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			cfg, err := config.Load(path, environ)
			if err == nil {
				err = srv.Reload(cfg)
			}
			if err != nil {
				logger.Error("configuration reload failed; keeping the current one", "error", err.Error())
			}
		}
	}
}
