package sqlstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/sqlstore"
	"github.com/imagegate/imagegate/metadata/sqlstore/sqltest"
)

// TestUnavailable: with the database refusing connections, then hanging,
// every method fails within the configured timeouts with an error
// wrapping metadata.ErrUnavailable (not the caller's context); when it
// answers again the same Store (its pool) works, and nothing written
// before was lost or doubled.
func TestUnavailable(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		cfg := sqltest.Config(t, driver)
		proxy := sqltest.NewProxy(t, sqltest.Addr(t, cfg))
		cfg = sqltest.WithAddr(t, cfg, proxy.Addr())
		cfg.ConnectTimeout, cfg.QueryTimeout = 500*time.Millisecond, time.Second
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		s, err := sqlstore.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		before := pendingAt(time.Now(), 1)
		if err := s.Put(ctx, before); err != nil {
			t.Fatal(err)
		}

		during := pendingAt(time.Now(), 2)
		for _, mode := range []struct {
			name string
			set  func()
		}{{"refused", proxy.Refuse}, {"stalled", proxy.Stall}} {
			mode.set()
			start := time.Now()
			calls := map[string]error{
				"Put":     s.Put(ctx, during),
				"Finish":  s.Finish(ctx, before.ID, metadata.Finish{Status: metadata.StatusAccepted, CommittedAt: time.Now()}),
				"Ping":    s.Ping(ctx),
				"Get":     func() error { _, err := s.Get(ctx, before.ID); return err }(),
				"List":    func() error { _, err := s.List(ctx, metadata.Query{}); return err }(),
				"Pending": func() error { _, err := s.Pending(ctx, metadata.PendingQuery{}); return err }(),
			}
			for name, err := range calls {
				if !errors.Is(err, metadata.ErrUnavailable) || errors.Is(err, context.Canceled) {
					t.Errorf("%s, database %s: got %v, want ErrUnavailable", name, mode.name, err)
				}
			}
			if took := time.Since(start); took > time.Minute {
				t.Errorf("database %s: six calls took %v", mode.name, took)
			}
		}

		proxy.Restore()
		if err := s.Put(ctx, during); err != nil {
			t.Fatalf("Put once the database is back: %v", err)
		}
		if err := s.Put(ctx, during); err != nil { // the client's retry
			t.Fatalf("retried Put: %v", err)
		}
		want := []string{during.ID, before.ID}
		if got := listIDs(t, s, metadata.Query{}); !slices.Equal(got, want) {
			t.Fatalf("records after the outage: %v, want %v", got, want)
		}
	})
}
