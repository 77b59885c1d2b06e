package registry

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/config"
)

// TestIngestMiddlewareSwitch: imagegate's body path is installed on the
// filesystem driver by default, and not when storage.filesystem.ingest is
// distribution or the driver is another; a bad value is refused by
// Validate, naming the key.
func TestIngestMiddlewareSwitch(t *testing.T) {
	driver := inmemory.New()
	logger := slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		driver, ingest string
		want           int
	}{
		{"filesystem", config.FilesystemWriterImagegate, 1},
		{"filesystem", config.FilesystemWriterDistribution, 0},
		{"s3", config.FilesystemWriterImagegate, 0},
	} {
		cfg := config.Default()
		cfg.Storage.Driver, cfg.Storage.Filesystem.Ingest = c.driver, c.ingest
		got, err := ingestMiddleware(cfg, driver, nil, prometheus.NewRegistry(), logger)
		if err != nil || len(got) != c.want {
			t.Errorf("driver %s, ingest %s: %d middlewares (%v), want %d", c.driver, c.ingest, len(got), err, c.want)
		}
	}
	cfg := config.Default()
	cfg.Storage.Filesystem.Ingest = "fast"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "storage.filesystem.ingest") {
		t.Fatalf("ingest: fast → %v, want an error naming storage.filesystem.ingest", err)
	}
}
