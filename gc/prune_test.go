package gc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
)

// pruneFixture is a collector on an in-memory driver and fleet store
// whose clock is past the grace period.
func pruneFixture(t *testing.T) (*Collector, *inmemory.Driver, fleet.Store) {
	t.Helper()
	mem := inmemory.New()
	ns, err := storage.NewRegistry(t.Context(), mem, storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	store := fleet.NewMemory(0)
	later := func() time.Time { return time.Now().Add(48 * time.Hour) }
	c, err := New(Options{Store: store, Namespace: ns, Driver: mem, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(t.Context(), stateSpace, backfilledKey, []byte("{}"), 0, 0); err != nil { // nothing stored before
		t.Fatal(err)
	}
	return c, mem, store
}

// indexed indexes a manifest of repo written at, and stores it (its
// revision and its blob) when stored.
func indexed(t *testing.T, c *Collector, mem *inmemory.Driver, repo, content string, at time.Time, stored bool) digest.Digest {
	t.Helper()
	d := digest.FromString(content)
	if stored {
		storedBlob(t, mem, content)
		link := fmt.Sprintf("/docker/registry/v2/repositories/%s/_manifests/revisions/sha256/%s/link", repo, d.Encoded())
		if err := mem.PutContent(t.Context(), link, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.refs.Put(t.Context(), Entry{Repository: repo, Manifest: d, Blobs: []digest.Digest{d}, Written: at}); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPassPrunesStaleEntries: a pass removes the index entry of a
// manifest no longer stored, and keeps those of a stored manifest, of a
// young entry (its push may not have stored the manifest yet) and of an
// entry rewritten (pushed again) between the check and the deletion.
func TestPassPrunesStaleEntries(t *testing.T) {
	c, mem, _ := pruneFixture(t)
	old := time.Now().Add(-time.Hour)
	stored := indexed(t, c, mem, "team/app", "stored", old, true)
	stale := indexed(t, c, mem, "team/app", "stale", old, false)
	young := indexed(t, c, mem, "team/app", "young", time.Now().Add(47*time.Hour), false)
	raced := indexed(t, c, mem, "team/other", "raced", old, false)
	c.SetHook(func(point, subject string) {
		if point == "prune-checked" && subject == raced.String() {
			indexed(t, c, mem, "team/other", "raced", time.Now().Add(48*time.Hour), false)
		}
	})
	res, err := c.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Pruned != 1 {
		t.Errorf("pruned %d entries, want 1", res.Pruned)
	}
	for _, e := range []struct {
		repo string
		d    digest.Digest
		want bool
	}{{"team/app", stored, true}, {"team/app", stale, false}, {"team/app", young, true}, {"team/other", raced, true}} {
		if has, err := c.refs.Has(t.Context(), e.repo, e.d); err != nil || has != e.want {
			t.Errorf("%s@%s indexed: %v (%v), want %v", e.repo, e.d, has, err, e.want)
		}
	}
}

// TestPruneBounded: one prune checks at most its limit of entries, and
// successive ones continue where the last stopped: a stale entry last in
// the index, behind stored ones, is reached by the third prune of 2.
func TestPruneBounded(t *testing.T) {
	c, mem, _ := pruneFixture(t)
	old := time.Now().Add(-time.Hour)
	const n = 6
	contents := make([]string, n)
	for i := range contents {
		contents[i] = fmt.Sprintf("manifest %d", i)
	}
	slices.SortFunc(contents, func(a, b string) int {
		return strings.Compare(refKey("team/app", digest.FromString(a)), refKey("team/app", digest.FromString(b)))
	})
	for i, content := range contents {
		indexed(t, c, mem, "team/app", content, old, i < n-1)
	}
	stale := digest.FromString(contents[n-1])
	checked := 0
	c.SetHook(func(point, _ string) {
		if point == "prune-checked" {
			checked++
		}
	})
	for call := 1; call <= n/2; call++ {
		checked = 0
		pruned, err := c.prune(t.Context(), 2)
		if err != nil {
			t.Fatal(err)
		}
		if checked != 2 || pruned != map[bool]int{true: 1, false: 0}[call == n/2] {
			t.Fatalf("call %d checked %d and pruned %d entries (limit 2, the stale one is last)", call, checked, pruned)
		}
	}
	if has, err := c.refs.Has(t.Context(), "team/app", stale); err != nil || has {
		t.Fatalf("stale entry indexed: %v (%v)", has, err)
	}
}

// failingStat is a driver whose reads fail: storage trouble.
type failingStat struct{ *inmemory.Driver }

func (failingStat) GetContent(context.Context, string) ([]byte, error) {
	return nil, errors.New("storage unavailable")
}

func (failingStat) Stat(context.Context, string) (storagedriver.FileInfo, error) {
	return nil, errors.New("storage unavailable")
}

// TestPruneStorageFailure: a storage failure stops the prune with an
// error; the entry is never read as "not stored".
func TestPruneStorageFailure(t *testing.T) {
	c, mem, store := pruneFixture(t)
	d := indexed(t, c, mem, "team/app", "unknown", time.Now().Add(-time.Hour), false)
	ns, err := storage.NewRegistry(t.Context(), failingStat{mem}, storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	c.opts.Namespace = ns
	if _, err := c.prune(t.Context(), 10); err == nil {
		t.Fatal("a storage failure was no error")
	}
	if has, err := NewRefs(store).Has(t.Context(), "team/app", d); err != nil || !has {
		t.Fatalf("entry indexed: %v (%v) after a storage failure", has, err)
	}
}
