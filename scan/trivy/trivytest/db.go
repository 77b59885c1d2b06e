package trivytest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/vulnerability"
	bolt "go.etcd.io/bbolt"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/scantest"
)

// UpdatedAt is the build time WriteFixtureDB records in metadata.json: a
// scanner using the fixture DB reports it as DBUpdatedAt. Its NextUpdate is
// a day later, long past, so a scanner that may update considers the
// fixture DB due for one.
var UpdatedAt = time.Date(2025, 7, 1, 6, 0, 0, 0, time.UTC)

// DBVersion is the DB schema version the fixture DB declares (and the one
// Trivy v0.74.0 reads), as a scanner reports it.
const DBVersion = "2"

// WriteFixtureDB writes the fixture DB (scantest.Advisories, UpdatedAt)
// into <cacheDir>/db, the layout a scanner with CacheDir cacheDir loads.
func WriteFixtureDB(t testing.TB, cacheDir string) {
	t.Helper()
	WriteDB(t, filepath.Join(cacheDir, "db"), UpdatedAt, scantest.Advisories())
}

// WriteDB writes trivy.db and metadata.json into dbDir with advisories for
// scantest.Platform, declaring schema version 2 and updatedAt. It opens its
// own bbolt file, never trivy-db's process-global handle, so it is safe
// while a scanner is open (on another directory).
func WriteDB(t testing.TB, dbDir string, updatedAt time.Time, advisories []scantest.Advisory) {
	t.Helper()
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		t.Fatalf("trivytest: %v", err)
	}
	bdb, err := bolt.Open(trivydb.Path(dbDir), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("trivytest: open %s: %v", dbDir, err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error { return putAdvisories(tx, advisories) })
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("trivytest: write %s: %v", dbDir, err)
	}
	err = metadata.NewClient(dbDir).Update(metadata.Metadata{
		Version:    trivydb.SchemaVersion,
		UpdatedAt:  updatedAt,
		NextUpdate: updatedAt.Add(24 * time.Hour),
		// A DB prepared out of band has DownloadedAt set like a downloaded one.
		DownloadedAt: updatedAt,
	})
	if err != nil {
		t.Fatalf("trivytest: metadata: %v", err)
	}
}

// putAdvisories stores the data source of scantest.Platform, one advisory
// per entry and its vulnerability details. The "vulnerability" bucket is
// always created: Trivy panics reading a DB without it.
func putAdvisories(tx *bolt.Tx, advisories []scantest.Advisory) error {
	dbc := trivydb.Config{}
	if _, err := tx.CreateBucketIfNotExists([]byte("vulnerability")); err != nil {
		return err
	}
	err := dbc.PutDataSource(tx, scantest.Platform, dbtypes.DataSource{
		ID: vulnerability.Alpine, Name: "Alpine Secdb", URL: "https://secdb.alpinelinux.org/",
	})
	if err != nil {
		return err
	}
	for _, a := range advisories {
		// A pointer, so that Advisory's own MarshalJSON (Status) is used.
		adv := &dbtypes.Advisory{FixedVersion: a.FixedVersion}
		if err := dbc.PutAdvisory(tx, []string{scantest.Platform, a.Package}, a.ID, adv); err != nil {
			return err
		}
		vendor := dbtypes.VendorSeverity{vulnerability.NVD: toDB(a.NVDSeverity)}
		if a.VendorSeverity != nil {
			vendor[vulnerability.Alpine] = toDB(*a.VendorSeverity)
		}
		err := dbc.PutVulnerability(tx, a.ID, dbtypes.Vulnerability{
			Title:          a.Title,
			Description:    "trivytest fixture advisory",
			VendorSeverity: vendor,
			References:     []string{"https://example.invalid/" + a.ID},
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// toDB maps a scan.Severity onto trivy-db's, which uses the same order.
func toDB(s scan.Severity) dbtypes.Severity { return dbtypes.Severity(s) }
