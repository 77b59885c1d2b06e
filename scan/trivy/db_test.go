package trivy_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy"
	"github.com/imagegate/imagegate/scan/trivy/trivytest"
)

// withoutCritical is the fixture DB's next edition: CVECritical withdrawn.
func withoutCritical() ([]scantest.Advisory, []scan.Vulnerability) {
	var advisories []scantest.Advisory
	for _, a := range scantest.Advisories() {
		if a.ID != scantest.CVECritical {
			advisories = append(advisories, a)
		}
	}
	var findings []scan.Vulnerability
	for _, v := range scantest.VulnerableFindings() {
		if v.ID != scantest.CVECritical {
			findings = append(findings, v)
		}
	}
	return advisories, findings
}

func TestNoDBWithSkipUpdate(t *testing.T) {
	s := open(t, trivy.Options{SkipUpdate: true})
	st := s.Status(t.Context())
	if st.Ready || !strings.Contains(st.Error, "SkipUpdate") || !errors.Is(st.Err(), scan.ErrNoDB) {
		t.Errorf("Status = %+v, want not ready, explaining SkipUpdate", st)
	}
	_, err := s.Scan(t.Context(), scantest.NewBlobs().Target(t, "team/app", scantest.CleanImage(t)))
	if !errors.Is(err, scan.ErrNoDB) {
		t.Errorf("Scan without DB: err = %v, want ErrNoDB", err)
	}
}

// TestNoDBAvailable: the repository has no DB; Open still succeeds, Status
// and Update explain, scans fail with ErrNoDB.
func TestNoDBAvailable(t *testing.T) {
	reg := trivytest.NewRegistry(t)
	repo := reg.Host + "/aquasecurity/trivy-db:2"
	s := open(t, trivy.Options{DBRepository: repo})
	if st := s.Status(t.Context()); st.Ready || st.Error == "" {
		t.Errorf("Status right after Open = %+v, want not ready with an explanation", st)
	}
	err := s.Update(t.Context())
	if err == nil || !strings.Contains(err.Error(), repo) {
		t.Fatalf("Update: err = %v, want one naming %s", err, repo)
	}
	if st := s.Status(t.Context()); st.Ready || st.Error != err.Error() {
		t.Errorf("Status = %+v, want not ready with the update error", st)
	}
	_, err = s.Scan(t.Context(), scantest.NewBlobs().Target(t, "team/app", scantest.CleanImage(t)))
	if !errors.Is(err, scan.ErrNoDB) {
		t.Errorf("Scan without DB: err = %v, want ErrNoDB", err)
	}
}

// TestDownloadAndSwap downloads the DB from a registry with Trivy's own
// downloader, skips the download while the published artifact is
// unchanged, and swaps in a new edition while idle.
func TestDownloadAndSwap(t *testing.T) {
	reg := trivytest.NewRegistry(t)
	v1 := filepath.Join(t.TempDir(), "db")
	trivytest.WriteDB(t, v1, trivytest.UpdatedAt, scantest.Advisories())
	repo := reg.PublishDB(t, "mirror/trivy-db:2", v1)

	s := open(t, trivy.Options{DBRepository: repo})
	if err := s.Update(t.Context()); err != nil { // after the first (background) attempt
		t.Fatalf("Update: %v", err)
	}
	if st := s.Status(t.Context()); !st.Ready || !st.DBUpdatedAt.Equal(trivytest.UpdatedAt) || st.Error != "" {
		t.Fatalf("Status after download = %+v", st)
	}
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))
	scantest.CheckFindings(t, mustScan(t, s, target), scantest.VulnerableFindings(), "")

	gets := reg.BlobGets()
	if err := s.Update(t.Context()); err != nil {
		t.Fatalf("Update with nothing new: %v", err)
	}
	if reg.BlobGets() != gets {
		t.Errorf("Update downloaded %d blobs although the published DB did not change", reg.BlobGets()-gets)
	}

	advisories, findings := withoutCritical()
	v2 := filepath.Join(t.TempDir(), "db")
	updatedAt := trivytest.UpdatedAt.Add(24 * time.Hour)
	trivytest.WriteDB(t, v2, updatedAt, advisories)
	reg.PublishDB(t, "mirror/trivy-db:2", v2)
	if err := s.Update(t.Context()); err != nil {
		t.Fatalf("Update to the new DB: %v", err)
	}
	if st := s.Status(t.Context()); !st.Ready || !st.DBUpdatedAt.Equal(updatedAt) {
		t.Fatalf("Status after swap = %+v, want DB updated at %v", st, updatedAt)
	}
	r := mustScan(t, s, target)
	scantest.CheckFindings(t, r, findings, "")
	if !r.DBUpdatedAt.Equal(updatedAt) {
		t.Errorf("report DBUpdatedAt = %v, want %v", r.DBUpdatedAt, updatedAt)
	}
}

// TestReloadPreparedDB: with SkipUpdate, a DB refreshed out of band (files
// renamed over the old ones) is picked up by Update.
func TestReloadPreparedDB(t *testing.T) {
	dir := t.TempDir()
	s := openFixture(t, trivy.Options{CacheDir: dir})
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))
	scantest.CheckFindings(t, mustScan(t, s, target), scantest.VulnerableFindings(), "")

	advisories, findings := withoutCritical()
	staged := filepath.Join(dir, "staged")
	updatedAt := trivytest.UpdatedAt.Add(48 * time.Hour)
	trivytest.WriteDB(t, staged, updatedAt, advisories)
	for _, f := range []string{"trivy.db", "metadata.json"} {
		if err := os.Rename(filepath.Join(staged, f), filepath.Join(dir, "db", f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(t.Context()); err != nil {
		t.Fatalf("Update (reload): %v", err)
	}
	if st := s.Status(t.Context()); !st.DBUpdatedAt.Equal(updatedAt) {
		t.Errorf("Status after reload = %+v, want DB updated at %v", st, updatedAt)
	}
	scantest.CheckFindings(t, mustScan(t, s, target), findings, "")
}

// TestIncompatibleDB: a DB of another schema version is refused at load,
// and Open still succeeds.
func TestIncompatibleDB(t *testing.T) {
	dir := t.TempDir()
	trivytest.WriteFixtureDB(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "db", "metadata.json"), []byte(`{"Version":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, trivy.Options{CacheDir: dir, SkipUpdate: true})
	if st := s.Status(t.Context()); st.Ready || !strings.Contains(st.Error, "schema version 1") {
		t.Errorf("Status = %+v, want not ready, naming the schema version", st)
	}
}

// TestInterruptedSwap: a crash between moving the old DB aside and moving
// the new one in leaves db.old behind; Open puts it back.
func TestInterruptedSwap(t *testing.T) {
	dir := t.TempDir()
	trivytest.WriteFixtureDB(t, dir)
	if err := os.Rename(filepath.Join(dir, "db"), filepath.Join(dir, "db.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "db-download-123"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := open(t, trivy.Options{CacheDir: dir, SkipUpdate: true})
	if st := s.Status(t.Context()); !st.Ready {
		t.Errorf("Status = %+v, want the previous DB restored", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "db-download-123")); !os.IsNotExist(err) {
		t.Errorf("partial download left in place (stat err %v)", err)
	}
}
