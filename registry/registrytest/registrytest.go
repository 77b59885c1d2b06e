// Package registrytest runs an imagegate server in process, for the tests
// of other packages (the CLI, the end-to-end suites).
package registrytest

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/registry"
)

// Start runs a server on a loopback port with the default configuration
// except: storage, metadata and outbox under a temporary directory, no
// debug listener, no scan policies, no access log — then mutate (nil for
// none) adjusts it. The server stops when the test ends. Start returns the
// server and the temporary directory (storage is under dir/registry).
func Start(t testing.TB, mutate func(*config.Config), opts ...registry.Option) (*registry.Server, string) {
	t.Helper()
	cfg := config.Default()
	dir := t.TempDir()
	cfg.HTTP.Addr, cfg.Debug.Addr = "127.0.0.1:0", ""
	cfg.Storage.Filesystem.RootDirectory = filepath.Join(dir, "registry")
	cfg.Metadata.Bolt.Path = filepath.Join(dir, "metadata.db")
	cfg.Metadata.Outbox = filepath.Join(dir, "outbox.db")
	cfg.Notifications.Outbox = filepath.Join(dir, "notifications-outbox.db")
	cfg.Scan.Policies = nil
	cfg.Log.AccessLog = false
	if mutate != nil {
		mutate(cfg)
	}
	srv, err := registry.New(context.Background(), cfg, registry.NewLogger(io.Discard, "error"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv, dir
}
