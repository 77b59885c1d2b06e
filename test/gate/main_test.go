package gate

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/trivy"
	"github.com/imagegate/imagegate/scan/trivy/trivytest"
)

// scanner is the one Trivy scanner of this test process (Trivy's DB handle
// is process-global), on the fixture DB, wrapped to count blob opens.
var scanner *countingScanner

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "imagegate-gate-test")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		trivytest.WriteFixtureDB(tb{}, filepath.Join(dir, "trivy"))
		s, err := trivy.Open(context.Background(), trivy.Options{CacheDir: filepath.Join(dir, "trivy"), SkipUpdate: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "opening trivy:", err)
			return 1
		}
		defer s.Close()
		scanner = &countingScanner{Scanner: s}
		return m.Run()
	}()
	os.Exit(code)
}

// countingScanner counts the layer blobs the scanner opens: a layer the
// cache already analysed is never opened again.
type countingScanner struct {
	scan.Scanner
	opens atomic.Int64
}

func (c *countingScanner) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	open := t.Open
	t.Open = func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
		c.opens.Add(1)
		return open(ctx, d)
	}
	return c.Scanner.Scan(ctx, t)
}

// tb lets fixture helpers that take a testing.TB run in TestMain.
type tb struct{ testing.TB }

func (tb) Helper()                   {}
func (tb) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (tb) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (tb) TempDir() string {
	d, err := os.MkdirTemp("", "imagegate-fixture")
	if err != nil {
		panic(err)
	}
	return d
}
