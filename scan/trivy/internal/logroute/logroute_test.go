// Package logroute tests, in a test binary of its own, what Open does to
// slog.Default: the other test binaries replace the default logger first.
package logroute

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	tlog "github.com/aquasecurity/trivy/pkg/log"

	"github.com/imagegate/imagegate/scan/trivy"
	"github.com/imagegate/imagegate/scan/trivy/trivytest"
)

// TestOpenReplacesTrivyBuffer: Trivy's pkg/log makes slog.Default buffer
// every record in memory; Open replaces it with the scanner's logger,
// forwarding Warn and above.
func TestOpenReplacesTrivyBuffer(t *testing.T) {
	if _, ok := slog.Default().Handler().(*tlog.DeferredHandler); !ok {
		t.Fatalf("before Open, slog.Default has %T, want Trivy's buffering handler", slog.Default().Handler())
	}
	var buf bytes.Buffer
	dir := t.TempDir()
	trivytest.WriteFixtureDB(t, dir)
	s, err := trivy.Open(t.Context(), trivy.Options{CacheDir: dir, SkipUpdate: true,
		Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := slog.Default().Handler().(*tlog.DeferredHandler); ok {
		t.Fatal("after Open, slog.Default still buffers in memory")
	}
	slog.Info("trivy chatter")
	slog.Warn("trivy warning")
	if out := buf.String(); strings.Contains(out, "trivy chatter") ||
		!strings.Contains(out, `msg="trivy warning" component=trivy`) {
		t.Errorf("scanner log:\n%s\nwant the warning (component=trivy) and not the info", out)
	}
}
