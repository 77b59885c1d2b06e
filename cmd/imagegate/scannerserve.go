package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"

	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/internal/buildinfo"
	"github.com/imagegate/imagegate/internal/certreload"
	"github.com/imagegate/imagegate/registry"
	"github.com/imagegate/imagegate/scan/remote"
	"github.com/imagegate/imagegate/scan/trivy"
)

const scannerLong = `Run one scanner of a scanner pool (docs/scanning.md) until SIGTERM or SIGINT:
Trivy with the vulnerability DB and layer cache of scan.cachedir, reading layers
straight from the storage configured for the registry, serving scan.pool.addr.
Give it the registry's configuration; scan.pool.secret must be set.`

// newScannerCmd is `imagegate scanner [--config FILE]`.
func newScannerCmd(environ []string) *cobra.Command {
	cmd := &cobra.Command{
		Use:               "scanner",
		Short:             "Run one scanner of a scanner pool on scan.pool.addr (docs/scanning.md)",
		Long:              scannerLong,
		Example:           "  IMAGEGATE_SCAN_POOL_SECRET=… imagegate scanner --config imagegate.yaml",
		Args:              positional(),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	return runWithConfig(cmd, "YAML configuration `file`, the registry's (default: built-in defaults)", environ,
		func(cmd *cobra.Command, cfg *config.Config, path string) error {
			return scannerCmd(cmd.Context(), cfg, path, cmd.OutOrStdout())
		})
}

// scannerCmd runs one scanner of the pool (docs/scanning.md) until SIGTERM
// or SIGINT: Trivy with the DB and layer cache of scan.cachedir, reading
// layers straight from the storage configured for the registry, serving
// scan.pool.addr.
func scannerCmd(ctx context.Context, cfg *config.Config, path string, stdout io.Writer) error {
	if cfg.Scan.Pool.Secret == "" {
		return errors.New("scanner: scan.pool.secret must be set (the registry sends it with every scan)")
	}
	logger := registry.NewConfiguredLogger(stdout, cfg.Log)
	logger.Info("starting scanner", "version", buildinfo.String(), "config", path, "addr", cfg.Scan.Pool.Addr)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	driver, err := factory.Create(ctx, cfg.Storage.Driver, cfg.StorageParameters())
	if err != nil {
		return fmt.Errorf("scanner: creating %s storage driver: %w", cfg.Storage.Driver, err)
	}
	ns, err := storage.NewRegistry(ctx, driver)
	if err != nil {
		return fmt.Errorf("scanner: opening storage: %w", err)
	}
	engine, err := trivy.Open(ctx, trivyOptions(cfg.Scan, logger))
	if err != nil {
		return fmt.Errorf("scanner: %w", err)
	}
	defer engine.Close()
	shared, err := scannerFleet(ctx, cfg)
	if err != nil {
		return fmt.Errorf("scanner: %w", err)
	}
	srv, err := remote.NewServer(remote.ServerOptions{
		Scanner: engine, Blobs: remote.StorageBlobs(ns), Secret: cfg.Scan.Pool.Secret.Reveal(),
		Workers: cfg.Scan.Workers, Queue: cfg.Scan.Pool.Queue, QueueWait: cfg.Scan.Pool.QueueWait,
		Timeout: cfg.Scan.Timeout, Pin: scannerPin(cfg, shared, logger), Refresh: engine.Refresh, Logger: logger,
	})
	if err != nil {
		return fmt.Errorf("scanner: %w", err)
	}
	return serveScanner(ctx, cfg, srv, logger)
}

// scannerFleet is the fleet store the scanners share with the replicas
// (metadata.driver dynamodb, postgres or mysql), nil when there is none.
func scannerFleet(ctx context.Context, cfg *config.Config) (fleet.Store, error) {
	if !cfg.SharedMetadata() {
		return nil, nil
	}
	return registry.OpenFleet(ctx, cfg)
}

// scannerPin is the pool's DB pin, kept in store; nil (no pin: each
// scanner trusts its own DB) without a store.
func scannerPin(cfg *config.Config, store fleet.Store, logger *slog.Logger) *remote.Pin {
	if store == nil {
		logger.Info("no shared fleet store: the pool's vulnerability DB is not pinned; each scanner uses its own",
			"metadata_driver", cfg.Metadata.Driver)
		return nil
	}
	return remote.NewPin(store)
}

// serveScanner serves srv on scan.pool.addr until ctx ends, then drains.
func serveScanner(ctx context.Context, cfg *config.Config, srv http.Handler, logger *slog.Logger) error {
	l, err := net.Listen("tcp", cfg.Scan.Pool.Addr)
	if err != nil {
		return fmt.Errorf("scanner: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout, IdleTimeout: cfg.HTTP.IdleTimeout,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	var certs *certreload.Reloader
	if c := cfg.Scan.Pool.TLS; c.Certificate != "" {
		// Reloaded when the files change, as the registry's (docs/security.md).
		if certs, err = certreload.New(c.Certificate, c.Key, certreload.Options{Logger: logger.With("component", "tls")}); err != nil {
			_ = l.Close()
			return fmt.Errorf("scanner: scan.pool.tls: %w", err)
		}
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	}
	done := make(chan error, 1)
	go func() {
		if certs != nil {
			done <- hs.ServeTLS(l, "", "")
		} else {
			done <- hs.Serve(l)
		}
	}()
	logger.Info("scanner listening", "addr", l.Addr().String(), "tls", cfg.Scan.Pool.TLS.Certificate != "")
	select {
	case err := <-done:
		return fmt.Errorf("scanner: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	logger.Info("scanner stopping")
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("scanner: shutting down: %w", err)
	}
	return nil
}
