package trivy_test

import (
	"testing"

	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy"
)

// TestLayerCache proves that a layer is read once: pushing an image that
// shares its base layer with a scanned one opens only the new layer, a
// second push of the same layers opens nothing, and the cache survives a
// restart.
func TestLayerCache(t *testing.T) {
	dir := t.TempDir()
	blobs := scantest.NewBlobs()
	base := scantest.VulnerableImage(t)
	derived := scantest.WithLayer(t, base, map[string]string{"srv/app/app.conf": "port=8080\n"})
	baseLayer, appLayer := scantest.LayerDigests(t, derived)[0], scantest.LayerDigests(t, derived)[1]

	s := openFixture(t, trivy.Options{CacheDir: dir})
	mustScan(t, s, blobs.Target(t, "team/base", base))
	if got := blobs.Opens(baseLayer); got != 1 {
		t.Fatalf("first scan opened the base layer %d times, want 1", got)
	}

	mustScan(t, s, blobs.Target(t, "team/app", derived))
	if got := blobs.Opens(baseLayer); got != 1 {
		t.Errorf("scan of an image on a scanned base opened the base layer again (%d opens)", got)
	}
	if got := blobs.Opens(appLayer); got != 1 {
		t.Errorf("scan of an image on a scanned base opened its own layer %d times, want 1", got)
	}

	opened := blobs.TotalOpens()
	r := mustScan(t, s, blobs.Target(t, "team/app-copy", derived))
	if got := blobs.TotalOpens(); got != opened {
		t.Errorf("second push of the same layers opened %d blobs, want 0", got-opened)
	}
	scantest.CheckFindings(t, r, scantest.VulnerableFindings(), baseLayer)

	// The cache is on disk: a new scanner on the same CacheDir reads nothing.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, trivy.Options{CacheDir: dir, SkipUpdate: true})
	mustScan(t, s2, blobs.Target(t, "team/app", derived))
	if got := blobs.TotalOpens(); got != opened {
		t.Errorf("scan after a restart opened %d blobs, want 0", got-opened)
	}
}
