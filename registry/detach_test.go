package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/detach"
	"github.com/imagegate/imagegate/scan/scantest"
)

// gatedFake is a fake for a slow scan: scantest.Fake whose scans each
// wait for a token on gate, padded with incompressible findings so that
// the report outgrows a fleet item.
type gatedFake struct {
	scantest.Fake
	gate  chan struct{}
	calls atomic.Int64
}

func (g *gatedFake) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	g.calls.Add(1)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r, err := g.Fake.Scan(ctx, t)
	if err == nil {
		for i := range 5000 { // ~100 random bytes each: ~500 KB compressed
			r.Vulnerabilities = append(r.Vulnerabilities, scan.Vulnerability{ID: "CVE-2099-0001", Package: "pad",
				InstalledVersion: randomSecret()[:8], Severity: scan.SeverityLow, Title: randomSecret() + randomSecret()[:i%8]})
		}
	}
	return r, err
}

// pushStatus pushes img to ref (with opts, e.g. as a user) without
// retrying a 429 (the test plays the pusher's retry itself) and returns
// the HTTP status of the refusal, 0 when accepted.
func pushStatus(t *testing.T, ref string, img v1.Image, opts ...remote.Option) int {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	err = remote.Write(r, img, append(opts, remote.WithRetryStatusCodes(http.StatusServiceUnavailable),
		remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Steps: 1}))...) // 429 TOOMANYREQUESTS is "temporary" to the writer too
	var terr *transport.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &terr):
		return terr.StatusCode
	}
	t.Fatalf("push %s: %v", ref, err)
	return 0
}

// sharedScanState is the state of the shared scan item of digest d in
// store ("" when none).
func sharedScanState(t *testing.T, store fleet.Store, d string) string {
	t.Helper()
	it, err := store.Get(t.Context(), detach.ReportSpace, d)
	if errors.Is(err, fleet.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ State string }
	if err := json.Unmarshal(it.Value, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.State
}

// TestDetachedScanSharedAcrossReplicas: replica a answers a push whose
// scan outlasts scan.pool.detachafter 429 and scans on; the push retried
// on replica b, sharing the fleet store and storage, is decided at once
// (403: vulnerable) with a's report — b's scanner is never called. The
// report (~500 KB compressed) is over the fleet item bound: it travels
// through the storage (SeaweedFS on the s3 backend).
func TestDetachedScanSharedAcrossReplicas(t *testing.T) {
	eachGCBackend(t, func(t *testing.T, storage func(*config.Config)) {
		store := remoteFleet{fleet.NewMemory(0)}
		detached := func(c *config.Config) {
			enforceAll(c)
			c.Scan.Pool.DetachAfter = 2 * time.Second
			storage(c)
		}
		sa, sb := &gatedFake{gate: make(chan struct{}, 1)}, &gatedFake{gate: make(chan struct{}, 1)}
		a := startServer(t, detached, WithFleet(store), WithScanner(sa))
		b := startServer(t, detached, WithFleet(store), WithScanner(sb))
		img := scantest.VulnerableImage(t)
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}

		if status := pushStatus(t, a.host()+"/team/app:v1", img); status != http.StatusTooManyRequests {
			t.Fatalf("push on a during its scan: status %d, want 429", status)
		}
		sa.gate <- struct{}{}
		waitFor(t, time.Minute, "a's report shared", func() bool { return sharedScanState(t, store, d.String()) == "done" })
		if status := pushStatus(t, b.host()+"/team/app:v1", img); status != http.StatusForbidden {
			t.Fatalf("retried push on b: status %d, want 403 (decided with a's report)", status)
		}
		if na, nb := sa.calls.Load(), sb.calls.Load(); na != 1 || nb != 0 {
			t.Fatalf("scans: a %d, b %d; want 1 and 0", na, nb)
		}
		if _, err := a.driver.Stat(t.Context(), detach.ReportRoot+"/sha256/"+d.Hex); err != nil {
			t.Fatalf("the big report is not in the shared storage: %v", err)
		}
	})
}
