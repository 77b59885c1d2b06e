package remote_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/remote"
	"github.com/imagegate/imagegate/scan/remote/remotetest"
	"github.com/imagegate/imagegate/scan/scantest"
)

// TestPinKeepsThePoolOnOneDB: two scanners share a pin. Once one of them
// made a verdict with a newer DB, the other (older DB) refuses to scan and
// is not ready, its scans go to the up-to-date scanner, and it is asked to
// catch up; when it has, it serves again.
func TestPinKeepsThePoolOnOneDB(t *testing.T) {
	ns := remotetest.Storage(t)
	img := scantest.VulnerableImage(t)
	remotetest.Add(t, ns, "team/app", img)
	store := fleet.NewMemory(100)
	older, newer := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)
	a, b := newDBScanner(older), newDBScanner(newer)
	urlA := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: a, Pin: remote.NewPin(store), Refresh: a.refresh})
	urlB := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: b, Pin: remote.NewPin(store), Refresh: b.refresh})
	target := scantest.NewTarget(t, "team/app", img, remotetest.NoOpen(t))
	scanOn := func(urls ...string) (*scan.Report, error) {
		return remotetest.Client(t, remote.ClientOptions{}, urls...).Scan(t.Context(), target)
	}

	r, err := scanOn(urlA)
	if err != nil || !r.DBUpdatedAt.Equal(older) {
		t.Fatalf("first scan on A: %v, DB %v", err, r)
	}
	if r, err := scanOn(urlB); err != nil || !r.DBUpdatedAt.Equal(newer) {
		t.Fatalf("scan on B (newer DB): %v, %v", err, r)
	}
	if pinned := status(t, urlA).Pinned; pinned == nil || !pinned.UpdatedAt.Equal(newer) {
		t.Fatalf("pin after B's scan = %v, want B's DB", pinned)
	}
	_, err = scanOn(urlA)
	if !errors.Is(err, scan.ErrBusy) || !contains(err, "DB_BEHIND") {
		t.Fatalf("scan on A alone after the pin moved: err = %v, want busy with DB_BEHIND", err)
	}
	<-a.refreshed
	if code, _ := do(t, http.MethodGet, urlA+remote.PathHealthz, "", "", nil); code != http.StatusServiceUnavailable {
		t.Errorf("healthz of A behind the pin = %d, want 503", code)
	}
	if st := status(t, urlA); st.Ready {
		t.Errorf("status of A behind the pin = %+v, want not ready", st)
	}
	for range 2 { // A then B, round robin: both land on B
		if r, err := scanOn(urlA, urlB); err != nil || !r.DBUpdatedAt.Equal(newer) {
			t.Fatalf("scan on the pool: %v, %+v; want B's DB", err, r)
		}
	}
	a.setDB(newer)
	if r, err := scanOn(urlA); err != nil || !r.DBUpdatedAt.Equal(newer) {
		t.Fatalf("scan on A after catching up: %v, %+v", err, r)
	}
}

func contains(err error, s string) bool {
	return err != nil && len(s) > 0 && strings.Contains(err.Error(), s)
}
