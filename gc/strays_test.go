package gc

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/layers"
	"github.com/imagegate/imagegate/oci"
)

// strayWorld is a registry in memory holding a tagged image (team/app:v1
// with blob kept), an unreferenced blob gone, and what the tests add.
type strayWorld struct {
	mem     *inmemory.Driver
	fake    *fakeBatchDriver
	driver  storagedriver.StorageDriver
	store   fleet.Store
	kept    digest.Digest
	gone    digest.Digest
	aliases *oci.Aliases
	diffIDs *diffid.DriverStore
	indexes *layers.DriverStore
}

func newStrayWorld(t *testing.T, batch bool) *strayWorld {
	t.Helper()
	ctx := t.Context()
	w := &strayWorld{mem: inmemory.New(), store: fleet.NewMemory(0)}
	w.fake = &fakeBatchDriver{Driver: w.mem}
	w.driver = w.mem
	if batch {
		w.driver = w.fake
	}
	w.kept, w.gone = storedBlob(t, w.mem, "kept layer"), storedBlob(t, w.mem, "gone layer")
	m := storedBlob(t, w.mem, "manifest")
	if err := NewRefs(w.store).Put(ctx, Entry{Repository: "team/app", Manifest: m, Blobs: []digest.Digest{m, w.kept}, Written: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{"tags/v1/current/link", "revisions/sha256/" + m.Encoded() + "/link"} {
		if err := w.mem.PutContent(ctx, "/docker/registry/v2/repositories/team/app/_manifests/"+link, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	w.aliases, w.diffIDs, w.indexes = oci.NewAliases(w.mem), diffid.NewDriverStore(w.mem), layers.NewDriverStore(w.mem)
	return w
}

// collector is a collector over w whose clock is now+off.
func (w *strayWorld) collector(t *testing.T, off *time.Duration) *Collector {
	t.Helper()
	ns, err := storage.NewRegistry(t.Context(), w.driver, storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Store: w.store, Namespace: ns, Driver: w.driver, Metrics: m, Now: func() time.Time { return time.Now().Add(*off) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	return c
}

// alias records a sha512 alias of content for blob.
func (w *strayWorld) alias(t *testing.T, content string, blob digest.Digest) digest.Digest {
	t.Helper()
	a := digest.SHA512.FromString(content)
	if err := w.aliases.Remember(t.Context(), a, blob); err != nil {
		t.Fatal(err)
	}
	return a
}

// derive stores two diff_ids and a layer index for blob.
func (w *strayWorld) derive(t *testing.T, blob digest.Digest) {
	t.Helper()
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		if err := w.diffIDs.Put(t.Context(), blob, alg.FromString("tar of "+blob.String())); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.indexes.Put(t.Context(), blob, oneFileIndex(t)); err != nil {
		t.Fatal(err)
	}
}

// derived reports whether blob's diff_id (sha256) and layer index are
// stored, each.
func (w *strayWorld) derived(t *testing.T, blob digest.Digest) (bool, bool) {
	t.Helper()
	_, d, err := w.diffIDs.Get(t.Context(), blob, digest.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	_, x, err := w.indexes.Get(t.Context(), blob)
	if err != nil {
		t.Fatal(err)
	}
	return d, x
}

// recalled reports whether alias is still recorded.
func (w *strayWorld) recalled(t *testing.T, alias digest.Digest) bool {
	t.Helper()
	_, ok, err := w.aliases.Recall(t.Context(), alias)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestPassDeletesStrays: the plan lists the alias of a blob it deletes
// with the blob, an alias of a blob not stored, and the diff_ids and
// layer index of a blob not stored; the pass deletes them — the alias in
// the blob's batch before its data — and keeps the alias and derived
// objects of a stored blob; with a driver deleting in batches (S3) and
// one deleting folders (filesystem).
func TestPassDeletesStrays(t *testing.T) {
	for _, batch := range []bool{true, false} {
		t.Run(map[bool]string{true: "batch", false: "folders"}[batch], func(t *testing.T) {
			ctx := t.Context()
			w := newStrayWorld(t, batch)
			absent := digest.FromString("deleted before gc deleted derived objects")
			withGone := w.alias(t, "gone layer", w.gone)
			withKept := w.alias(t, "kept layer", w.kept)
			dangling := w.alias(t, "deleted layer", absent)
			w.derive(t, w.kept)
			w.derive(t, absent)
			off := 48 * time.Hour
			c := w.collector(t, &off)
			p, err := c.Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Blobs) != 1 || p.Blobs[0].Digest != w.gone || !slices.Equal(p.Blobs[0].Aliases, []digest.Digest{withGone}) {
				t.Fatalf("plan's blobs %+v, want %s with its alias %s", p.Blobs, w.gone, withGone)
			}
			if len(p.Aliases) != 1 || p.Aliases[0].Alias != dangling || p.Aliases[0].Blob != absent {
				t.Fatalf("plan's aliases %+v, want %s (of %s)", p.Aliases, dangling, absent)
			}
			if len(p.Orphans) != 2 || p.Orphans[0].Blob != absent || len(p.Orphans[0].Objects) != 2 || p.Orphans[1].Blob != absent || len(p.Orphans[1].Objects) != 1 {
				t.Fatalf("plan's derived orphans %+v, want the 2 diff_ids and the layer index of %s", p.Orphans, absent)
			}
			res, err := c.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Blobs != 1 || res.Aliases != 2 || res.DerivedOrphans != 3 {
				t.Fatalf("deleted %d blobs, %d aliases, %d derived orphans; want 1, 2, 3: %+v", res.Blobs, res.Aliases, res.DerivedOrphans, res)
			}
			if a, o := testutil.ToFloat64(c.opts.Metrics.aliases), testutil.ToFloat64(c.opts.Metrics.orphans); a != 2 || o != 3 {
				t.Errorf("imagegate_gc_aliases_deleted_total %v, imagegate_gc_derived_orphans_deleted_total %v; want 2, 3", a, o)
			}
			if w.recalled(t, withGone) || w.recalled(t, dangling) || !w.recalled(t, withKept) {
				t.Errorf("aliases left: of the deleted blob %v, of the absent one %v, of the kept one %v; want false false true",
					w.recalled(t, withGone), w.recalled(t, dangling), w.recalled(t, withKept))
			}
			if d, x := w.derived(t, absent); d || x {
				t.Errorf("derived objects of a blob not stored left: diff_id %v, layer index %v", d, x)
			}
			if d, x := w.derived(t, w.kept); !d || !x {
				t.Errorf("derived objects of a stored blob deleted: diff_id %v, layer index %v", d, x)
			}
			if !batch {
				return
			}
			if len(w.fake.batches) != 2 {
				t.Fatalf("%d batch calls, want 2 (the blob's, the strays'): %v", len(w.fake.batches), w.fake.batches)
			}
			first := w.fake.batches[0]
			if i, j := slices.Index(first, oci.BlobAliasPath(withGone)), slices.Index(first, blobDataPath(w.gone)); i < 0 || j < i {
				t.Errorf("the blob's batch %v: its alias at %d, its data at %d; want the alias first", first, i, j)
			}
			again, err := c.Run(ctx)
			if err != nil || again.Aliases != 0 || again.DerivedOrphans != 0 {
				t.Fatalf("second pass: %+v, %v; want nothing left", again, err)
			}
		})
	}
}

// TestStraysYoungKept replays the tarball door's order — a layer's
// derived objects stored just before its blob is committed — around two
// passes: within the grace period the entries of a blob not stored (yet)
// are kept, as is an older orphan still within it; once the blob is
// stored they are kept for good, while the orphan, now past the grace
// period, goes.
func TestStraysYoungKept(t *testing.T) {
	ctx := t.Context()
	w := newStrayWorld(t, true)
	committing := digest.FromString("layer being stored")
	orphan := digest.FromString("layer deleted long ago")
	w.derive(t, committing)
	w.derive(t, orphan)
	off := 23 * time.Hour // the entries are 23 h old: within the 24 h grace
	c := w.collector(t, &off)
	p, err := c.Plan(ctx)
	if err != nil || len(p.Orphans) != 0 {
		t.Fatalf("plan within the grace period: %+v, %v; want no derived orphan", p.Orphans, err)
	}
	if res, err := c.Run(ctx); err != nil || res.DerivedOrphans != 0 {
		t.Fatalf("pass within the grace period: %+v, %v; want nothing deleted", res, err)
	}
	if d, x := w.derived(t, committing); !d || !x {
		t.Fatalf("entries of a blob being stored deleted: diff_id %v, layer index %v", d, x)
	}
	storedBlob(t, w.mem, "layer being stored")
	if err := NewRefs(w.store).Put(ctx, Entry{Repository: "team/app", Manifest: digest.FromString("m2"),
		Blobs: []digest.Digest{committing}, Written: time.Now()}); err != nil {
		t.Fatal(err)
	}
	off = 48 * time.Hour
	res, err := c.Run(ctx)
	if err != nil || res.DerivedOrphans != 3 {
		t.Fatalf("pass past the grace period: %+v, %v; want the orphan's 3 entries deleted", res, err)
	}
	if d, x := w.derived(t, committing); !d || !x {
		t.Fatalf("entries of a stored blob deleted: diff_id %v, layer index %v", d, x)
	}
	if d, x := w.derived(t, orphan); d || x {
		t.Fatalf("an orphan past the grace period kept: diff_id %v, layer index %v", d, x)
	}
}

// TestStraysRaces replays writers at the points of a pass: a blob
// touched (uploaded, mounted) before the tombstone keeps its strays
// (skipped); under the tombstone, an entry rewritten since the plan (the
// tarball door writes it before its commit's touch), an alias rewritten,
// or the blob stored again, keeps what they concern.
func TestStraysRaces(t *testing.T) {
	for _, race := range []string{"touched", "rewritten", "stored again"} {
		t.Run(race, func(t *testing.T) {
			ctx := t.Context()
			w := newStrayWorld(t, true)
			blob := digest.FromString("layer")
			a := w.alias(t, "layer", blob)
			w.derive(t, blob)
			x := oneFileIndex(t)
			off := 48 * time.Hour
			c := w.collector(t, &off)
			c.SetHook(func(point, subject string) {
				switch {
				case race == "touched" && point == "planned":
					if err := c.opts.Fence.Touch(ctx, KindBlob, blob); err != nil {
						t.Error(err)
					}
				case race == "rewritten" && point == "stray-rechecking": // in a recheck goroutine: no t.Fatal
					off = 0 // the clock now reads as the writer's
					if err := errors.Join(w.diffIDs.Put(ctx, blob, digest.FromString("tar of "+blob.String())),
						w.indexes.Put(ctx, blob, x), w.aliases.Remember(ctx, a, blob)); err != nil {
						t.Error(err)
					}
				case race == "stored again" && point == "stray-rechecking":
					if err := w.mem.PutContent(ctx, blobDataPath(blob), []byte("layer")); err != nil {
						t.Error(err)
					}
				}
			})
			res, err := c.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Aliases != 0 || res.DerivedOrphans != 0 {
				t.Fatalf("deleted %d aliases and %d derived objects of a blob being stored: %+v", res.Aliases, res.DerivedOrphans, res)
			}
			if d, x := w.derived(t, blob); !d || !x || !w.recalled(t, a) {
				t.Fatalf("left: diff_id %v, layer index %v, alias %v; want all", d, x, w.recalled(t, a))
			}
			if skipped := slices.ContainsFunc(res.Skipped, func(s Skip) bool { return s.Digest == blob }); skipped != (race == "touched") {
				t.Fatalf("skipped %v: %+v", res.Skipped, res)
			}
		})
	}
}

// TestStrayWindowsGoRound: a pass checks a window of each tree after
// where the previous one stopped; successive passes go round the tree
// and back to its start, so every dangling alias goes and a live one
// stays.
func TestStrayWindowsGoRound(t *testing.T) {
	ctx := t.Context()
	w := newStrayWorld(t, false)
	var dangling []digest.Digest
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		dangling = append(dangling, w.alias(t, "content "+s, digest.FromString("absent "+s)))
	}
	live := w.alias(t, "kept layer", w.kept)
	off := 48 * time.Hour
	c := w.collector(t, &off)
	c.windowSize = 2
	var counts []int
	for range 4 {
		res, err := c.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, res.Aliases)
	}
	// 6 aliases in windows of 2: 2+2+(1 and the live one), then from the
	// start again: nothing left.
	if total := counts[0] + counts[1] + counts[2]; total != 5 || counts[3] != 0 {
		t.Fatalf("aliases deleted per pass %v, want 5 in the first 3 passes", counts)
	}
	for _, a := range dangling {
		if w.recalled(t, a) {
			t.Errorf("dangling alias %s left", a)
		}
	}
	if !w.recalled(t, live) {
		t.Error("the alias of a stored blob was deleted")
	}
}

// TestDerivedKinds: the layout the orphan walk relies on — each kind's
// entries are files of its dir, root/<algorithm>/<encoded> — holds for
// the stores' own paths, and blobOf refuses what is not an entry folder.
func TestDerivedKinds(t *testing.T) {
	d := digest.FromString("x")
	for _, k := range derivedKinds {
		if got, ok := k.blobOf(k.dir(d)); !ok || got != d {
			t.Errorf("%s: blobOf(%s) = %s, %v", k.name, k.dir(d), got, ok)
		}
		if k.dir(d) != k.root()+"/"+d.Algorithm().String()+"/"+d.Encoded() {
			t.Errorf("%s: dir %s is not below root %s", k.name, k.dir(d), k.root())
		}
		for _, p := range k.paths(d) {
			if _, ok := k.blobOf(p); ok || !slices.Contains(derivedPaths(d), p) {
				t.Errorf("%s: entry path %s taken for a folder, or not derived", k.name, p)
			}
		}
		for _, bad := range []string{k.root() + "/sha256/nothex", k.root() + "/md5/" + d.Encoded(), "/elsewhere/sha256/" + d.Encoded()} {
			if _, ok := k.blobOf(bad); ok {
				t.Errorf("%s: blobOf(%s) named a blob", k.name, bad)
			}
		}
	}
}

// failingBlobCheck is a driver that cannot check one blob: the walk of
// a blob's folder, or its Stat, fails (the walk of every blob works).
type failingBlobCheck struct{ *inmemory.Driver }

func (f failingBlobCheck) Stat(ctx context.Context, p string) (storagedriver.FileInfo, error) {
	if _, ok := blobDigest(p); ok {
		return nil, errors.New("storage unreachable")
	}
	return f.Driver.Stat(ctx, p)
}

func (f failingBlobCheck) Walk(ctx context.Context, from string, fn storagedriver.WalkFn, opts ...func(*storagedriver.WalkOptions)) error {
	if _, ok := blobDigest(from + "/data"); ok {
		return errors.New("storage unreachable")
	}
	return f.Driver.Walk(ctx, from, fn, opts...)
}

// TestStraysStorageFailure: a blob whose existence cannot be checked (in
// the recheck under its tombstone) is never taken for "not stored": the
// pass fails and nothing is deleted.
func TestStraysStorageFailure(t *testing.T) {
	w := newStrayWorld(t, false)
	absent := digest.FromString("absent")
	a := w.alias(t, "absent", absent)
	w.derive(t, absent)
	off := 48 * time.Hour
	c := w.collector(t, &off)
	c.opts.Driver = failingBlobCheck{w.mem}
	if _, err := c.Run(t.Context()); err == nil {
		t.Fatal("a pass that could not check the blobs succeeded")
	}
	if d, x := w.derived(t, absent); !d || !x || !w.recalled(t, a) {
		t.Fatalf("deleted on a storage failure: diff_id left %v, layer index left %v, alias left %v", d, x, w.recalled(t, a))
	}
}

// TestStraysWhenBlobWalkStops: when the blob walk stops early (the pass's
// deletion bound) it has not seen every stored blob, and the plan checks
// the strays' blobs one by one: the alias of a stored blob the walk did
// not reach is kept, the alias and entries of a blob not stored listed.
func TestStraysWhenBlobWalkStops(t *testing.T) {
	w := newStrayWorld(t, true)
	absent := digest.FromString("absent")
	dangling := w.alias(t, "absent", absent)
	w.derive(t, absent)
	var live []digest.Digest
	for _, s := range []string{"x", "y", "z"} { // unreferenced, so candidates; past the bound
		b := storedBlob(t, w.mem, "garbage "+s)
		live = append(live, b)
		w.alias(t, "garbage "+s, b)
	}
	off := 48 * time.Hour
	c := w.collector(t, &off)
	c.opts.MaxDeletions = 1
	p, err := c.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !p.Truncated || len(p.Blobs) != 1 {
		t.Fatalf("plan: %d blobs, truncated %v; want 1 and true", len(p.Blobs), p.Truncated)
	}
	if len(p.Aliases) != 1 || p.Aliases[0].Alias != dangling {
		t.Fatalf("aliases of blobs not stored %+v, want only %s (the others' blobs are stored: %v)", p.Aliases, dangling, live)
	}
	if len(p.Orphans) != 2 {
		t.Fatalf("derived orphans %+v, want the 2 folders of %s", p.Orphans, absent)
	}
}
