package registry

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
)

func testSingletons(store fleet.Store, replica string) singletons {
	return singletons{store: store, replica: replica, logger: slog.New(slog.DiscardHandler)}
}

// TestSingletonExclusive: while one replica runs a piece of work, another
// skips it; once it is done, the other may run it.
func TestSingletonExclusive(t *testing.T) {
	store := fleet.NewMemory(0)
	a, b := testSingletons(store, "a"), testSingletons(store, "b")
	running, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := a.exclusive(t.Context(), "prepare", func(context.Context) error {
			close(running)
			<-release
			return nil
		})
		done <- err
	}()
	<-running
	ran, err := b.exclusive(t.Context(), "prepare", func(context.Context) error { return errors.New("must not run") })
	if ran || err != nil {
		t.Fatalf("replica b while a runs: ran %v, %v", ran, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ran, err = b.exclusive(t.Context(), "prepare", func(context.Context) error { return nil })
	if !ran || err != nil {
		t.Fatalf("replica b after a finished: ran %v, %v", ran, err)
	}
}

// TestSingletonEveryRunsOnceFleetWide: two replicas looping over the same
// work never run it together, and together run it at most once per
// interval.
func TestSingletonEveryRunsOnceFleetWide(t *testing.T) {
	const interval, runs = 200 * time.Millisecond, 4
	store := fleet.NewMemory(0)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var inside, overlaps, count atomic.Int32
	reached := make(chan time.Time, runs)
	work := func(context.Context) error {
		if inside.Add(1) != 1 {
			overlaps.Add(1)
		}
		defer inside.Add(-1)
		if n := count.Add(1); n == 1 || n == runs {
			reached <- time.Now()
		}
		return nil
	}
	for _, r := range []string{"a", "b"} {
		go testSingletons(store, r).every(ctx, "sweep", interval, work)
	}
	first := <-reached
	var last time.Time
	select {
	case last = <-reached:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d runs in 10 s", count.Load())
	}
	if overlaps.Load() != 0 {
		t.Fatalf("%d runs overlapped", overlaps.Load())
	}
	if d := last.Sub(first); d < (runs-1)*interval {
		t.Fatalf("%d runs within %s on two replicas: more often than once per %s", runs, d, interval)
	}
}

// TestUploadPurgingUnderLease: distribution's own purger is off (every
// replica would run it); the server's purge removes abandoned uploads.
func TestUploadPurgingUnderLease(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Storage.UploadPurging.Age = time.Nanosecond })
	dcfg := s.cfg.Distribution("x")
	if p, _ := dcfg.Storage["maintenance"]["uploadpurging"].(map[any]any); p["enabled"] != true {
		t.Fatalf("the configuration no longer enables distribution's purger (%v): the test proves nothing", p)
	}
	withoutUploadPurging(dcfg)
	if p, _ := dcfg.Storage["maintenance"]["uploadpurging"].(map[any]any); p["enabled"] != false {
		t.Fatalf("distribution's purger still enabled: %v", p)
	}
	resp, err := http.Post(s.base+"/v2/team/purged/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || loc == "" {
		t.Fatalf("starting an upload: %d", resp.StatusCode)
	}
	if !strings.HasPrefix(loc, "http") {
		loc = s.base + loc
	}
	if err := purgeUploads(s.driver, s.cfg.Storage.UploadPurging, slog.New(slog.DiscardHandler))(t.Context()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPatch, loc, strings.NewReader("data"))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("PATCH of a purged upload: %d, want 404", resp.StatusCode)
	}
}
