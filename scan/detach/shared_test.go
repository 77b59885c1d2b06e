package detach_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/detach"
	"github.com/imagegate/imagegate/scan/scantest"
)

// replica is one replica's detached scanner over its own inner scanner.
type replica struct {
	*detach.Scanner
	inner *gatedScanner
}

// newReplica returns a replica sharing store and storage (nil: none).
func newReplica(t *testing.T, name string, store fleet.Store, storage storagedriver.StorageDriver, padding int) replica {
	t.Helper()
	inner := newGated()
	inner.padding = padding
	s, err := detach.New(inner, detach.Options{After: 50 * time.Millisecond, Timeout: time.Minute,
		Shared: detach.Shared{Fleet: store, Storage: storage, Owner: name}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return replica{Scanner: s, inner: inner}
}

// fsStorage is a filesystem storage driver in a temporary directory.
func fsStorage(t *testing.T) storagedriver.StorageDriver {
	t.Helper()
	d, err := filesystem.FromParameters(map[string]any{"rootdirectory": t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sharedState returns the state of the shared item of t's manifest, ""
// when there is none, and the item's size.
func sharedState(t *testing.T, store fleet.Store, target scan.Target) (string, int) {
	t.Helper()
	it, err := store.Get(t.Context(), detach.ReportSpace, target.Digest.String())
	if errors.Is(err, fleet.ErrNotFound) {
		return "", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ State string }
	if err := json.Unmarshal(it.Value, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.State, len(it.Value)
}

// scanUntilDecided retries r's scan of target, as a pusher retries its
// push, until it is no longer in progress.
func scanUntilDecided(t *testing.T, r replica, target scan.Target) (*scan.Report, error) {
	t.Helper()
	var rep *scan.Report
	var err error
	waitFor(t, func() bool {
		rep, err = r.Scan(t.Context(), target)
		return !errors.Is(err, scan.ErrInProgress)
	})
	return rep, err
}

// randomVulnerabilities returns n low vulnerabilities with random titles.
func randomVulnerabilities(n int) []scan.Vulnerability {
	vs := make([]scan.Vulnerability, n)
	for i := range vs {
		var b [48]byte
		_, _ = rand.Read(b[:])
		vs[i] = scan.Vulnerability{ID: "CVE-2099-" + hex.EncodeToString(b[:2]), Package: "pad",
			InstalledVersion: "1", Severity: scan.SeverityLow, Title: hex.EncodeToString(b[:])}
	}
	return vs
}

// TestSharedReportDecidesTheRetryOnAnotherReplica: replica a's detached
// scan is published; the push retried on replica b is decided with it,
// b's scanner never called.
func TestSharedReportDecidesTheRetryOnAnotherReplica(t *testing.T) {
	store := fleet.NewMemory(0)
	a := newReplica(t, "a", store, nil, 0)
	b := newReplica(t, "b", store, nil, 0)
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))

	if _, err := a.Scan(t.Context(), target); !errors.Is(err, scan.ErrInProgress) {
		t.Fatalf("slow scan on a: err = %v, want scan.ErrInProgress", err)
	}
	a.inner.gate <- struct{}{}
	waitFor(t, func() bool { st, _ := sharedState(t, store, target); return st == "done" })
	r, err := b.Scan(t.Context(), target)
	if err != nil {
		t.Fatalf("retry on b: %v", err)
	}
	scantest.CheckFindings(t, r, scantest.VulnerableFindings(), "")
	if na, nb := a.inner.calls.Load(), b.inner.calls.Load(); na != 1 || nb != 0 {
		t.Errorf("scans: a %d, b %d; want 1 and 0", na, nb)
	}
}

// TestSharedClaimKeepsASecondReplicaFromScanning: while a scans, b's
// request waits for a's claim instead of scanning, and gets a's report.
func TestSharedClaimKeepsASecondReplicaFromScanning(t *testing.T) {
	store := fleet.NewMemory(0)
	a := newReplica(t, "a", store, nil, 0)
	b := newReplica(t, "b", store, nil, 0)
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))

	if _, err := a.Scan(t.Context(), target); !errors.Is(err, scan.ErrInProgress) {
		t.Fatalf("a: err = %v, want scan.ErrInProgress", err)
	}
	waitFor(t, func() bool { st, _ := sharedState(t, store, target); return st == "running" })
	if _, err := b.Scan(t.Context(), target); !errors.Is(err, scan.ErrInProgress) {
		t.Fatalf("b during a's scan: err = %v, want scan.ErrInProgress", err)
	}
	a.inner.gate <- struct{}{}
	r, err := scanUntilDecided(t, b, target)
	if err != nil {
		t.Fatalf("retry on b: %v", err)
	}
	scantest.CheckFindings(t, r, scantest.VulnerableFindings(), "")
	if na, nb := a.inner.calls.Load(), b.inner.calls.Load(); na != 1 || nb != 0 {
		t.Errorf("scans: a %d, b %d; want 1 and 0", na, nb)
	}
}

// TestSharedBigReportGoesToStorage: a report too big for a fleet item is
// stored in the storage driver; the item stays small and b reads the
// report from storage, whole.
func TestSharedBigReportGoesToStorage(t *testing.T) {
	store, storage := fleet.NewMemory(0), fsStorage(t)
	const padding = 5000 // ~100 random bytes each: ~500 KB compressed
	a := newReplica(t, "a", store, storage, padding)
	b := newReplica(t, "b", store, storage, padding)
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))

	a.inner.gate <- struct{}{}
	want, err := scanUntilDecided(t, a, target)
	if err != nil {
		t.Fatal(err)
	}
	st, size := sharedState(t, store, target)
	if st != "done" || size > 4<<10 {
		t.Fatalf("shared item: state %q, %d bytes; want done, small (report in storage)", st, size)
	}
	info, err := storage.Stat(t.Context(), detach.ReportRoot+"/sha256/"+target.Digest.Encoded())
	if err != nil || info.Size() <= detach.MaxInlineBytes || info.Size() > detach.MaxStoredBytes {
		t.Fatalf("stored report: %v, err %v; want between the inline and stored bounds", info, err)
	}
	got, err := scanUntilDecided(t, b, target) // decoding 500 KB may outlast After
	if err != nil {
		t.Fatalf("b: %v", err)
	}
	if len(got.Vulnerabilities) != len(want.Vulnerabilities) || got.Vulnerabilities[len(got.Vulnerabilities)-1] != want.Vulnerabilities[len(want.Vulnerabilities)-1] {
		t.Errorf("b's report has %d vulnerabilities, a's %d, or they differ", len(got.Vulnerabilities), len(want.Vulnerabilities))
	}
	if nb := b.inner.calls.Load(); nb != 0 {
		t.Errorf("b scanned %d times; want its report from storage", nb)
	}
}

// TestSharedReportTooBigStaysLocal: a report over the item bound with no
// storage to hold it is not shared — the claim is released so b scans
// for itself at once, and a still answers from its own memory.
func TestSharedReportTooBigStaysLocal(t *testing.T) {
	store := fleet.NewMemory(0)
	a := newReplica(t, "a", store, nil, 5000)
	b := newReplica(t, "b", store, nil, 5000)
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))

	a.inner.gate <- struct{}{}
	if _, err := scanUntilDecided(t, a, target); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { st, _ := sharedState(t, store, target); return st == "" })
	b.inner.gate <- struct{}{}
	if _, err := scanUntilDecided(t, b, target); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Scan(t.Context(), target); err != nil {
		t.Fatal(err)
	}
	if na, nb := a.inner.calls.Load(), b.inner.calls.Load(); na != 1 || nb != 1 {
		t.Errorf("scans: a %d, b %d; want 1 each (not shared, kept locally)", na, nb)
	}
}

// TestSharedReportNeedsTheSameDB: a shared report made with another DB
// than b's is not used: b scans again.
func TestSharedReportNeedsTheSameDB(t *testing.T) {
	store := fleet.NewMemory(0)
	a := newReplica(t, "a", store, nil, 0)
	b := newReplica(t, "b", store, nil, 0)
	b.inner.mu.Lock()
	b.inner.db = b.inner.db.Add(6 * time.Hour)
	b.inner.mu.Unlock()
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))

	a.inner.gate <- struct{}{}
	if _, err := scanUntilDecided(t, a, target); err != nil {
		t.Fatal(err)
	}
	b.inner.gate <- struct{}{}
	r, err := scanUntilDecided(t, b, target)
	if err != nil {
		t.Fatal(err)
	}
	if nb := b.inner.calls.Load(); nb != 1 || !r.DBUpdatedAt.Equal(b.inner.dbTime()) {
		t.Errorf("b: %d scans, report DB %v; want its own scan with its DB", nb, r.DBUpdatedAt)
	}
}

// TestSharedFailureReleasesTheClaim: a's failed scan frees the manifest
// at once: b scans it without waiting for the claim to expire.
func TestSharedFailureReleasesTheClaim(t *testing.T) {
	store := fleet.NewMemory(0)
	a := newReplica(t, "a", store, nil, 0)
	b := newReplica(t, "b", store, nil, 0)
	a.inner.failing.Store(true)
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))

	a.inner.gate <- struct{}{}
	if _, err := scanUntilDecided(t, a, target); err == nil {
		t.Fatal("a's failing scan succeeded")
	}
	if st, _ := sharedState(t, store, target); st != "" {
		t.Fatalf("after a's failure the shared item is %q; want none", st)
	}
	b.inner.gate <- struct{}{}
	if _, err := scanUntilDecided(t, b, target); err != nil {
		t.Fatalf("b after a's failure: %v", err)
	}
}

// downStore is a fake for a fault a real store cannot be made to produce
// on demand in a test: every call fails as in an outage.
type downStore struct{ fleet.Store }

func (downStore) Get(context.Context, string, string) (fleet.Item, error) {
	return fleet.Item{}, errors.New("downStore: unreachable")
}

// TestSharedStoreOutageScansAlone: with the fleet store down, a replica
// scans on its own instead of failing the push.
func TestSharedStoreOutageScansAlone(t *testing.T) {
	a := newReplica(t, "a", downStore{fleet.NewMemory(0)}, nil, 0)
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))
	a.inner.gate <- struct{}{}
	r, err := scanUntilDecided(t, a, target)
	if err != nil {
		t.Fatalf("scan with the store down: %v", err)
	}
	scantest.CheckFindings(t, r, scantest.VulnerableFindings(), "")
}
