package fleet

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/scan/scantest"
)

// testVulnerable pushes the vulnerable fixture image (a CRITICAL and two
// HIGH findings) to an enforced repository on every replica directly and
// through HAProxy: each push is refused with 403 DENIED, nothing is
// tagged, every record is rejected with a verdict from the same
// vulnerability DB version, and the scanner pool logged one scan of the
// image per push, with that DB.
func testVulnerable(t *testing.T, f *fleet) {
	img := scantest.VulnerableImage(t)
	digest := digestOf(t, img)
	auth := remote.WithAuth(&authn.Basic{Username: "root", Password: users["root"]})
	targets := append([]string{f.lb.Addr}, f.addrs()...)
	for _, addr := range targets {
		ref, err := name.ParseReference(addr+"/vuln/app:v1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		err = remote.Write(ref, img, auth, remote.WithContext(t.Context()))
		var terr *transport.Error
		if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden || len(terr.Errors) == 0 ||
			terr.Errors[0].Code != transport.DeniedErrorCode || !strings.Contains(terr.Errors[0].Message, "vulnerabilities at or above HIGH") {
			t.Errorf("push to %s: %v, want 403 DENIED naming the vulnerabilities", addr, err)
		}
		if _, err := remote.Head(ref, auth, remote.WithContext(t.Context())); err == nil {
			t.Errorf("%s tagged the refused image", addr)
		}
	}

	rs := records(t, f.lb.Addr, "vuln/app")
	if len(rs) != len(targets) {
		t.Fatalf("%d records of vuln/app, want %d (one per push):%s", len(rs), len(targets), describe(rs))
	}
	wantDB := fixtureDB
	for _, r := range rs {
		if r.Status != metadata.StatusRejected || r.Digest.String() != digest || r.Scan == nil {
			t.Errorf("record %s: %s %s scan %+v, want rejected %s with a scan", r.ID, r.Status, r.Digest, r.Scan, digest)
			continue
		}
		if r.Scan.DBVersion != wantDB || r.Scan.Verdict != "enforce:block" || r.Scan.Counts["CRITICAL"] != 1 || r.Scan.Counts["HIGH"] != 2 {
			t.Errorf("record %s: scan DB %q verdict %q counts %v, want DB %q, enforce:block, 1 CRITICAL, 2 HIGH",
				r.ID, r.Scan.DBVersion, r.Scan.Verdict, r.Scan.Counts, wantDB)
		}
	}

	var scans []string
	for i, s := range f.scanners {
		for _, l := range s.scans(t) {
			if l.Repository != "vuln/app" {
				continue
			}
			scans = append(scans, fmt.Sprintf("scanner %d: %s %s", i+1, l.Digest, l.DB))
			if l.Digest != digest || l.DB != wantDB {
				t.Errorf("scanner %d scanned vuln/app@%s with DB %q, want %s with %q", i+1, l.Digest, l.DB, digest, wantDB)
			}
		}
	}
	if len(scans) != len(targets) {
		t.Errorf("the scanner pool logged %d scans of vuln/app, want %d (one per push): %v", len(scans), len(targets), scans)
	}
}
