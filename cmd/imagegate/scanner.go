package main

import (
	"context"
	"log/slog"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/registry"
	"github.com/imagegate/imagegate/scan/trivy"
)

// openScanner opens Trivy when a scan policy asks for scans; nil otherwise.
// A missing vulnerability DB does not stop the server: Trivy downloads one
// in the background (or waits for one in scan.cachedir) and readiness
// reports the scanner degraded meanwhile.
func openScanner(ctx context.Context, c config.Scan, logger *slog.Logger) (*trivy.Scanner, error) {
	if !registry.ScanningConfigured(c) {
		return nil, nil
	}
	s, err := trivy.Open(ctx, trivy.Options{
		CacheDir:       c.CacheDir,
		DBRepository:   c.DBRepository,
		SkipUpdate:     c.SkipUpdate,
		UpdateInterval: c.UpdateInterval,
		MaxConcurrent:  c.Workers,
		Timeout:        c.Timeout,
		Logger:         logger,
	})
	if err != nil {
		return nil, err
	}
	if err := s.Status(ctx).Err(); err != nil {
		logger.Error("NO VULNERABILITY DATABASE: scans fail until one is loaded; pushes follow their policy's onerror",
			"cachedir", c.CacheDir, "dbrepository", c.DBRepository, "skipupdate", c.SkipUpdate, "error", err.Error())
	}
	return s, nil
}
