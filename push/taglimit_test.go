package push

import (
	"context"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/metadata"
)

// TestTagLimitCountsTheWholeUpload: a tarball upload's images are one
// commit, so their new tags count together against the repository's
// limit (two images each within it, together past it, are refused as one
// upload: the offending push rejected, the other withdrawn, nothing
// stored), and a tag that exists or that two images share counts once.
func TestTagLimitCountsTheWholeUpload(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.TagsPerRepository = 3 })
	ctx := context.Background()
	if err := h.pipeline.Run(ctx, newPush("team/app", h.image("team/app", "zero"), "v1")); err != nil {
		t.Fatal(err)
	}
	upload := func(tags ...[]string) []*Push {
		t.Helper()
		var pushes []*Push
		for i, ts := range tags {
			x := newPush("team/app", h.image("team/app", strings.Repeat("x", i+1)+strings.Join(ts, ",")), ts...)
			x.Source = metadata.SourceTarUpload
			if err := h.pipeline.Gate(ctx, x, pushes...); err != nil {
				t.Fatal(err)
			}
			pushes = append(pushes, x)
		}
		return pushes
	}

	refused := upload([]string{"v2"}, []string{"v3", "v4"})
	want := `repository team/app holds 1 tag and may hold at most 3 (limits.tagsperrepository): 3 new tags ("v2", …) refused`
	err := h.pipeline.Commit(ctx, refused...)
	if r, ok := asRefusal(err); !ok || !strings.HasPrefix(r.Message, want) {
		t.Fatalf("an upload of 3 new tags into 2 places: %v; want DENIED %q…", err, want)
	}
	for _, x := range refused {
		if h.stored("team/app", x.CanonicalDigest()) {
			t.Fatal("the refused upload stored a manifest")
		}
	}
	if rec := h.record(refused[0].Record().ID); rec.Status != metadata.StatusRejected || !strings.HasPrefix(rec.Reason, want) {
		t.Fatalf("refused push recorded %s %q", rec.Status, rec.Reason)
	}
	if rec := h.record(refused[1].Record().ID); rec.Status != metadata.StatusRejected || !strings.Contains(rec.Reason, "not published") {
		t.Fatalf("other push recorded %s %q", rec.Status, rec.Reason)
	}

	// v1 exists and "v2" is shared: two new tags, room for two.
	if err := h.pipeline.Commit(ctx, upload([]string{"v1", "v2"}, []string{"v2", "v3"})...); err != nil {
		t.Fatalf("an upload re-pointing v1 and creating v2, v3 into 2 places: %v", err)
	}
	if h.tag("team/app", "v3") == "" || h.tag("team/app", "v2") == "" {
		t.Fatal("the accepted upload's tags are missing")
	}
}
