package main

import (
	"context"
	"log/slog"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/registry"
	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/remote"
	"github.com/imagegate/imagegate/scan/trivy"
)

// openScanner returns the gate's scanner when a scan policy asks for
// scans; nil otherwise. With scan.pool.urls it is a client of the scanner
// pool (this process then holds no vulnerability DB); else Trivy in this
// process. A missing vulnerability DB does not stop the server: Trivy
// downloads one in the background (or waits for one in scan.cachedir) and
// readiness reports the scanner degraded meanwhile.
//
// With scan.pool.detachafter, the registry wraps it so that scans outlive
// the pushes that wait too long for them (registry/detach.go: the
// replicas share those scans through the fleet store).
func openScanner(ctx context.Context, c config.Scan, logger *slog.Logger) (scan.Scanner, error) {
	if !registry.ScanningConfigured(c) {
		return nil, nil
	}
	var s scan.Scanner
	if len(c.Pool.URLs) > 0 {
		client, err := openPoolClient(c, logger)
		if err != nil {
			return nil, err
		}
		s = client
	} else {
		engine, err := trivy.Open(ctx, trivyOptions(c, logger))
		if err != nil {
			return nil, err
		}
		if err := engine.Status(ctx).Err(); err != nil {
			logger.Error("NO VULNERABILITY DATABASE: scans fail until one is loaded; pushes follow their policy's onerror",
				"cachedir", c.CacheDir, "dbrepository", c.DBRepository, "skipupdate", c.SkipUpdate, "error", err.Error())
		}
		s = engine
	}
	return s, nil
}

// trivyOptions are the Trivy engine's options under c, for serve and for
// scanner alike.
func trivyOptions(c config.Scan, logger *slog.Logger) trivy.Options {
	return trivy.Options{
		CacheDir:       c.CacheDir,
		DBRepository:   c.DBRepository,
		SkipUpdate:     c.SkipUpdate,
		UpdateInterval: c.UpdateInterval,
		MaxConcurrent:  c.Workers,
		Timeout:        c.Timeout,
		Logger:         logger,
	}
}

// openPoolClient returns a client of the scanner pool c.Pool names.
func openPoolClient(c config.Scan, logger *slog.Logger) (*remote.Client, error) {
	timeout := c.Pool.Timeout
	if timeout == 0 {
		timeout = c.Timeout
	}
	client, err := remote.NewClient(remote.ClientOptions{URLs: c.Pool.URLs, Secret: c.Pool.Secret.Reveal(),
		Attempts: c.Pool.Attempts, Timeout: timeout, StatusTimeout: c.Pool.StatusTimeout})
	if err != nil {
		return nil, err
	}
	logger.Info("scanning in the scanner pool", "urls", c.Pool.URLs)
	return client, nil
}
