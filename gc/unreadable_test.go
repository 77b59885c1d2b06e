package gc

import (
	"strings"
	"testing"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/manifest/ocischema"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// storeImage stores a one-layer OCI image in repo through distribution,
// as a push would, and returns its manifest's digest.
func storeImage(t *testing.T, ns distribution.Namespace, repo string) digest.Digest {
	t.Helper()
	ctx := t.Context()
	named, _ := reference.WithName(repo)
	r, err := ns.Repository(ctx, named)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := r.Blobs(ctx).Put(ctx, v1.MediaTypeImageLayer, []byte("a layer of "+repo))
	if err != nil {
		t.Fatal(err)
	}
	b := ocischema.NewManifestBuilder(r.Blobs(ctx), []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`), nil)
	if err := b.AppendReference(layer); err != nil {
		t.Fatal(err)
	}
	m, err := b.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := r.Manifests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ms.Put(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReindexUnreadableMarkers: a marker file cut short (or whose JSON
// does not match its path) no longer blocks collection for good. Its
// path names the manifest and the repository's key: a marker whose repository is stored is attributed, its manifest
// indexed and the file removed; one whose key no stored repository has
// is removed once older than InFlight (kept while younger: its push may
// be storing); a file whose path names no manifest keeps blocking, and
// is counted in imagegate_gc_unreadable_markers.
func TestReindexUnreadableMarkers(t *testing.T) {
	c, mem, _ := pruneFixture(t) // the collector's clock: 48 h ahead
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	c.opts.Metrics = m
	ctx := t.Context()
	stored := storeImage(t, c.opts.Namespace, "team/app")
	gone := digest.FromString("a manifest never stored")
	other := storeImage(t, c.opts.Namespace, "team/other")
	for p, content := range map[string]string{
		markerPath("team/app", stored): `{"repository":"team/a`, // cut short
		markerPath("gone/repo", gone):  ``,
		// Whole JSON that names another path: trusted, clearing it would
		// remove that other path and leave this file blocking for good.
		markerPath("team/other", other): `{"repository":"team/app","manifest":"` + string(other) + `","at":"2026-12-03T12:00:00Z"}`,
	} {
		if err := mem.PutContent(ctx, p, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}

	// With the wall clock the marker of the unlisted repository is young:
	// it stays; the stored manifest's is resolved.
	now, err := New(Options{Store: c.opts.Store, Namespace: c.opts.Namespace, Driver: mem, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if left, err := now.reindex(ctx); err != nil || left != 1 {
		t.Fatalf("reindex with a young unattributable marker: %d left, %v; want 1", left, err)
	}
	for repo, d := range map[string]digest.Digest{"team/app": stored, "team/other": other} {
		if has, err := c.refs.Has(ctx, repo, d); !has || err != nil {
			t.Fatalf("the manifest of an unreadable marker, %s@%s, is not indexed: %v %v", repo, d, has, err)
		}
		if _, err := mem.Stat(ctx, markerPath(repo, d)); err == nil {
			t.Errorf("the attributed marker's file of %s is left", repo)
		}
	}

	// 48 h later it is cleared; a file that names no manifest blocks.
	junk := unindexedRoot + "/not-a-key/sha256"
	if err := mem.PutContent(ctx, junk, []byte("?")); err != nil {
		t.Fatal(err)
	}
	if left, err := c.reindex(ctx); err != nil || left != 1 {
		t.Fatalf("reindex with a stray file: %d left, %v; want 1", left, err)
	}
	if _, err := mem.Stat(ctx, markerPath("gone/repo", gone)); err == nil {
		t.Error("the old marker of a repository that holds nothing is left")
	}
	if got := testutil.ToFloat64(m.unreadable); got != 1 {
		t.Errorf("imagegate_gc_unreadable_markers = %v, want 1", got)
	}
	if _, err := c.Run(ctx); err == nil || !strings.Contains(err.Error(), "metadata store outage") {
		t.Fatalf("a pass with a stray marker file: %v, want ErrUnindexed", err)
	}
	if err := mem.Delete(ctx, junk); err != nil {
		t.Fatal(err)
	}
	if left, err := c.reindex(ctx); err != nil || left != 0 {
		t.Fatalf("reindex once the stray file is removed: %d left, %v", left, err)
	}
	if got := testutil.ToFloat64(m.unreadable); got != 0 {
		t.Errorf("imagegate_gc_unreadable_markers = %v after the removal, want 0", got)
	}
}
