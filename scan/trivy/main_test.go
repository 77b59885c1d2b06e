package trivy_test

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy"
	"github.com/imagegate/imagegate/scan/trivy/trivytest"
)

// TestMain discards Trivy's own logs (which go to slog.Default) before any
// Scanner is opened: otherwise the first test's logger would receive them
// for the rest of the run.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// testLogger returns a logger writing to t's output (shown on failure or
// with -v).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// open opens a Scanner with opts (CacheDir and Logger filled in when empty)
// and closes it when t ends.
func open(t testing.TB, opts trivy.Options) *trivy.Scanner {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := trivy.Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openFixture opens a Scanner on the fixture DB, never updating it.
func openFixture(t testing.TB, opts trivy.Options) *trivy.Scanner {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	trivytest.WriteFixtureDB(t, opts.CacheDir)
	opts.SkipUpdate = true
	return open(t, opts)
}

func TestContract(t *testing.T) {
	scantest.Contract(t, openFixture(t, trivy.Options{}))
}

func TestReportDetails(t *testing.T) {
	s := openFixture(t, trivy.Options{})
	before := time.Now().UTC()
	r, err := s.Scan(t.Context(), scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Scanner != "trivy" || r.ScannerVersion != "v0.74.0" {
		t.Errorf("scanner = %q %q, want trivy v0.74.0", r.Scanner, r.ScannerVersion)
	}
	if r.DBVersion != trivytest.DBVersion || !r.DBUpdatedAt.Equal(trivytest.UpdatedAt) {
		t.Errorf("DB = %q %v, want %q %v", r.DBVersion, r.DBUpdatedAt, trivytest.DBVersion, trivytest.UpdatedAt)
	}
	if r.ScannedAt.Before(before) {
		t.Errorf("ScannedAt %v is before the scan started (%v)", r.ScannedAt, before)
	}
	for _, v := range r.Vulnerabilities {
		if v.PrimaryURL == "" {
			t.Errorf("%s has no primary URL", v.ID)
		}
	}
	st := s.Status(t.Context())
	if !st.Ready || st.DBVersion != trivytest.DBVersion || !st.DBUpdatedAt.Equal(trivytest.UpdatedAt) || st.Error != "" {
		t.Errorf("Status = %+v", st)
	}
}

func TestSecondOpenFails(t *testing.T) {
	openFixture(t, trivy.Options{})
	if _, err := trivy.Open(t.Context(), trivy.Options{CacheDir: t.TempDir(), SkipUpdate: true}); err != trivy.ErrInUse {
		t.Fatalf("second Open: err = %v, want ErrInUse", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	_, err := trivy.Open(t.Context(), trivy.Options{DBRepository: "UPPER/case::", MaxConcurrent: -1})
	if err == nil {
		t.Fatal("Open with invalid options succeeded")
	}
	for _, field := range []string{"CacheDir", "DBRepository", "MaxConcurrent"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}
