package trivy_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy"
	"github.com/imagegate/imagegate/scan/trivy/trivytest"
)

// BenchmarkScanCold scans the vulnerable fixture image with an empty layer
// cache each time (a fresh CacheDir; opening the scanner is not timed).
func BenchmarkScanCold(b *testing.B) {
	dbSrc := filepath.Join(b.TempDir(), "db")
	trivytest.WriteDB(b, dbSrc, trivytest.UpdatedAt, scantest.Advisories())
	img := scantest.VulnerableImage(b)
	blobs := scantest.NewBlobs()
	target := blobs.Target(b, "bench/cold", img)
	var total time.Duration
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		copyDir(b, dbSrc, filepath.Join(dir, "db"))
		s, err := trivy.Open(b.Context(), trivy.Options{CacheDir: dir, SkipUpdate: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := s.Scan(b.Context(), target); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/op")
}

// BenchmarkScanWarm scans the vulnerable fixture image with its layer
// already analysed: no blob is read.
func BenchmarkScanWarm(b *testing.B) {
	s := openFixture(b, trivy.Options{Logger: slog.New(slog.DiscardHandler)})
	blobs := scantest.NewBlobs()
	target := blobs.Target(b, "bench/warm", scantest.VulnerableImage(b))
	if _, err := s.Scan(b.Context(), target); err != nil {
		b.Fatal(err)
	}
	opened := blobs.TotalOpens()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := s.Scan(b.Context(), target); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
	if blobs.TotalOpens() != opened {
		b.Errorf("warm scans opened %d blobs", blobs.TotalOpens()-opened)
	}
}

// copyDir copies the regular files of src into dst.
func copyDir(b *testing.B, src, dst string) {
	b.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		b.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
}
