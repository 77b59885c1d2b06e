package gc_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
)

// writeFile writes data at the storage path p under root.
func writeFile(b *testing.B, root, p string, data []byte) {
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		b.Fatal(err)
	}
}

// blobAt stores a blob of content under root and returns its digest.
func blobAt(b *testing.B, root, content string) digest.Digest {
	d := digest.Digest(fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(content))))
	writeFile(b, root, fmt.Sprintf("docker/registry/v2/blobs/sha256/%s/%s/data", d.Encoded()[:2], d.Encoded()), []byte(content))
	return d
}

// BenchmarkGCPass is one pass over 10,000 tagged manifests in 100
// repositories (references indexed, each naming 4 layer blobs and its own
// manifest blob: 50,000 referenced blobs) plus 10,000 unreferenced blobs
// — 60,000 stored — on the filesystem driver with the in-memory fleet
// store: time per pass (it deletes the 10,000) and peak heap. Setup (~2
// minutes) is not timed. Run: go test -run '^$' -bench BenchmarkGCPass -benchtime 1x ./gc
func BenchmarkGCPass(b *testing.B) {
	const repos, perRepo, blobsPer, garbage = 100, 100, 4, 10000
	var peak atomic.Uint64
	for range b.N {
		b.StopTimer()
		root := b.TempDir()
		driver := filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 100})
		ns, err := storage.NewRegistry(b.Context(), driver, storage.EnableDelete)
		if err != nil {
			b.Fatal(err)
		}
		store := fleet.NewMemory(0)
		refs := gc.NewRefs(store)
		n := 0
		for r := range repos {
			repo := fmt.Sprintf("team/app%03d", r)
			for m := range perRepo {
				e := gc.Entry{Repository: repo, Written: time.Now()}
				for range blobsPer {
					e.Blobs = append(e.Blobs, blobAt(b, root, fmt.Sprintf("layer %d", n)))
					n++
				}
				e.Manifest = blobAt(b, root, fmt.Sprintf("manifest %s %d", repo, m))
				e.Blobs = append(e.Blobs, e.Manifest)
				if err := refs.Put(b.Context(), e); err != nil {
					b.Fatal(err)
				}
				writeFile(b, root, fmt.Sprintf("docker/registry/v2/repositories/%s/_manifests/tags/t%d/current/link", repo, m), []byte(e.Manifest))
			}
		}
		for i := range garbage {
			blobAt(b, root, fmt.Sprintf("orphan %d", i))
		}
		later := func() time.Time { return time.Now().Add(48 * time.Hour) }
		c, err := gc.New(gc.Options{Store: store, Namespace: ns, Driver: driver, Now: later, MaxDeletions: 100000})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Backfill(b.Context()); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > base.HeapInuse && ms.HeapInuse-base.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse - base.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		})
		b.StartTimer()
		res, err := c.Run(b.Context())
		b.StopTimer()
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		if want := garbage; res.Blobs != want {
			b.Fatalf("deleted %d blobs, want %d: %+v", res.Blobs, want, res.Skipped[:min(3, len(res.Skipped))])
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}

// BenchmarkPushFence is what garbage collection adds to one manifest PUT
// of a three-layer image on the in-memory fleet store: touching its own
// digest and its 4 references (config, layers), reading their tombstones,
// and writing its references entry.
func BenchmarkPushFence(b *testing.B) {
	store := fleet.NewMemory(0)
	f := gc.NewFence(store, 24*time.Hour, nil)
	refs := gc.NewRefs(store)
	var layers []digest.Digest
	for i := range 4 {
		layers = append(layers, digest.FromString(fmt.Sprintf("blob %d", i)))
	}
	i := 0
	for b.Loop() {
		m := digest.FromString(fmt.Sprintf("manifest %d", i))
		i++
		e := gc.Entry{Repository: "team/app", Manifest: m, Blobs: append([]digest.Digest{m}, layers...), Written: time.Now()}
		if err := f.Touch(b.Context(), gc.KindSelf, m); err != nil {
			b.Fatal(err)
		}
		if err := f.Touch(b.Context(), gc.KindRef, e.Referenced()...); err != nil {
			b.Fatal(err)
		}
		if err := refs.Put(b.Context(), e); err != nil {
			b.Fatal(err)
		}
	}
}
