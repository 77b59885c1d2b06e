package fleet

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy/trivytest"
)

// poolRepo is where testScannerPool pushes: an enforced repository
// (vulnRepos, onerror: reject), so a push is accepted only when a scanner
// actually scanned it.
const poolRepo = "vuln/pool"

// fixtureDB is the DB every verdict of a fleet names: the fixture DB's
// schema version and build time, as metadata.ScanSummary records it.
var fixtureDB = trivytest.DBVersion + " (" + trivytest.UpdatedAt.Format(time.RFC3339) + ")"

// testScannerPool: the replicas' scans go to both scanners of the pool;
// with one scanner killed (SIGKILL) pushes are still scanned — by the
// other, the client skipping the dead one — and accepted, their verdicts
// naming the fixture DB; the restarted scanner takes scans again.
//
// Two pushes in a row to one replica, with nothing else scanning, start
// its round robin on both scanners: one of them tries each scanner first.
func testScannerPool(t *testing.T, f *fleet) {
	direct := f.replicas[0].Addr
	before := f.scanCounts(t)
	pushed := []string{pushClean(t, direct, "spread-1"), pushClean(t, direct, "spread-2")}
	for i, n := range f.scanCounts(t) {
		if n <= before[i] {
			t.Errorf("scanner %d scanned nothing of two pushes in a row to one replica (scans: %v before, %v after)",
				i+1, before, f.scanCounts(t))
		}
	}

	dead, alive := f.scanners[1], f.scanners[0]
	dead.kill(t)
	aliveBefore := len(alive.scans(t))
	pushed = append(pushed,
		pushClean(t, f.lb.Addr, "one-dead-lb"),
		pushClean(t, direct, "one-dead-1"),
		pushClean(t, direct, "one-dead-2"))
	if got := len(alive.scans(t)) - aliveBefore; got != 3 {
		t.Errorf("the remaining scanner logged %d scans of the 3 pushes made while the other was dead, want 3", got)
	}

	dead.restart(t)
	before = f.scanCounts(t)
	pushed = append(pushed, pushClean(t, direct, "restarted-1"), pushClean(t, direct, "restarted-2"))
	if after := f.scanCounts(t); after[1] <= before[1] {
		t.Errorf("the restarted scanner took none of two pushes in a row to one replica (scans: %v before, %v after)", before, after)
	}

	checkAcceptedWithDB(t, f, pushed)
}

// pushClean pushes a new image without findings (the clean Alpine fixture
// plus a file naming tag) to poolRepo:tag at addr as root, and returns
// its digest. Any error fails the test: in poolRepo a push whose scan
// failed is refused.
func pushClean(t *testing.T, addr, tag string) string {
	t.Helper()
	img := scantest.WithLayer(t, scantest.CleanImage(t), map[string]string{"etc/pool-test": tag})
	ref := mustRef(t, fmt.Sprintf("%s/%s:%s", addr, poolRepo, tag))
	if err := remote.Write(ref, img, rootAuth, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return digestOf(t, img)
}

// checkAcceptedWithDB checks that every digest in digests has an accepted
// record in poolRepo with an enforced passing verdict made with the
// fixture DB, and that the pool's logs name each scan with that DB.
func checkAcceptedWithDB(t *testing.T, f *fleet, digests []string) {
	t.Helper()
	byDigest := map[string]*metadata.Record{}
	for _, r := range records(t, f.lb.Addr, poolRepo) {
		byDigest[r.Digest.String()] = r
	}
	logged := map[string]string{}
	for _, s := range f.scanners {
		for _, l := range s.scans(t) {
			if l.Repository == poolRepo {
				logged[l.Digest] = l.DB
			}
		}
	}
	for _, d := range digests {
		r := byDigest[d]
		switch {
		case r == nil:
			t.Errorf("no record of %s@%s", poolRepo, d)
		case r.Status != metadata.StatusAccepted || r.Scan == nil || r.Scan.Verdict != "enforce:pass" || r.Scan.DBVersion != fixtureDB:
			t.Errorf("record %s of %s: %s, scan %+v; want accepted, enforce:pass with DB %q", r.ID, d, r.Status, r.Scan, fixtureDB)
		}
		if db, ok := logged[d]; !ok || db != fixtureDB {
			t.Errorf("scanner logs: %s scanned with DB %q (logged: %t), want %q", d, db, ok, fixtureDB)
		}
	}
}

// scanCounts is how many scans each scanner has logged so far.
func (f *fleet) scanCounts(t testing.TB) []int {
	t.Helper()
	return f.scanCountsSince(t, time.Time{})
}
