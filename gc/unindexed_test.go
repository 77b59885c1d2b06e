package gc

import (
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
)

// TestUnindexedMarkers: markers round-trip through storage, one file per
// (repository, manifest) whatever the repository's name; a listing is
// bounded and says when more are left; clearing an absent marker is no
// error; a marker file that does not parse still counts (it blocks
// deletion) and names its digest.
func TestUnindexedMarkers(t *testing.T) {
	ctx := t.Context()
	u := NewUnindexed(inmemory.New())
	if ms, more, err := u.List(ctx, 10); err != nil || len(ms) != 0 || more {
		t.Fatalf("empty storage: %v %v %v", ms, more, err)
	}
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	a, b := digest.FromString("a"), digest.FromString("b")
	for _, m := range []Marker{{Repository: "team/app", Manifest: a, At: at}, {Repository: "team/app/sub", Manifest: a, At: at}, {Repository: "team/app", Manifest: b, At: at}} {
		if err := u.Mark(ctx, m.Repository, m.Manifest, m.At); err != nil {
			t.Fatal(err)
		}
	}
	ms, more, err := u.List(ctx, 10)
	if err != nil || len(ms) != 3 || more {
		t.Fatalf("three markers: %+v %v %v", ms, more, err)
	}
	for _, m := range ms {
		if (m.Repository != "team/app" && m.Repository != "team/app/sub") || !m.At.Equal(at) {
			t.Fatalf("marker read back as %+v", m)
		}
	}
	if ms, more, _ := u.List(ctx, 2); len(ms) != 2 || !more {
		t.Fatalf("bounded listing: %d markers, more %v", len(ms), more)
	}
	if err := u.Clear(ctx, "team/app", a); err != nil {
		t.Fatal(err)
	}
	if err := u.Clear(ctx, "team/app", a); err != nil {
		t.Fatalf("clearing an absent marker: %v", err)
	}
	if ms, _, _ := u.List(ctx, 10); len(ms) != 2 {
		t.Fatalf("after one clear: %+v", ms)
	}
	if err := u.driver.PutContent(ctx, markerPath("x", b), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	ms, _, _ = u.List(ctx, 10)
	var broken int
	for _, m := range ms {
		if m.Repository == "" && m.Manifest == b && m.unreadable && m.key == repoKey("x") && !m.At.IsZero() {
			broken++
		}
	}
	if len(ms) != 3 || broken != 1 {
		t.Fatalf("a corrupt marker: %+v", ms)
	}
	if found, err := u.Any(ctx); !found || err != nil {
		t.Fatalf("Any: %v %v", found, err)
	}
}
