package gc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
	"github.com/imagegate/imagegate/internal/awsmetrics"
	"github.com/imagegate/imagegate/internal/testutil/s3test"
	"github.com/imagegate/imagegate/layers"
	"github.com/imagegate/imagegate/storagedriver/s3"
)

// The benchmark's registry: 10,000 tagged manifests in 100 repositories,
// each naming 4 layer blobs and its own manifest blob (50,000 referenced
// blobs).
const benchRepos, benchPerRepo, benchBlobsPer = 100, 100, 4

// benchObject is one object the benchmark stores, at a storage path.
type benchObject struct {
	path string
	data []byte
}

// blobObject is the stored blob of content, and its digest.
func blobObject(content string) (benchObject, digest.Digest) {
	d := digest.Digest(fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(content))))
	p := fmt.Sprintf("/docker/registry/v2/blobs/sha256/%s/%s/data", d.Encoded()[:2], d.Encoded())
	return benchObject{path: p, data: []byte(content)}, d
}

// orphanObjects are n stored blobs no manifest references, each with a
// diff_id and a layer index kept for it (which go with it).
func orphanObjects(n int) []benchObject {
	out := make([]benchObject, 0, 3*n)
	for i := range n {
		o, d := blobObject(fmt.Sprintf("orphan %d", i))
		out = append(out, o,
			benchObject{path: diffid.EntryPaths(d)[0], data: []byte(digest.FromString("tar of " + string(d)))},
			benchObject{path: layers.EntryPaths(d)[0], data: []byte("index of " + d)})
	}
	return out
}

// derivedLeft fails unless no diff_id or layer index is stored.
func derivedLeft(b *testing.B, driver storagedriver.StorageDriver) {
	n := 0
	err := driver.Walk(b.Context(), "/imagegate", func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			n++
		}
		return nil
	})
	var notFound storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) {
		b.Fatal(err)
	}
	if n > 0 {
		b.Fatalf("%d derived objects of deleted blobs left", n)
	}
}

// benchRegistry is the benchmark's registry: every object to store (blobs
// and tag links) and the references index entries, indexed in store.
func benchRegistry(b *testing.B, store fleet.Store) []benchObject {
	refs := gc.NewRefs(store)
	var objs []benchObject
	n := 0
	for r := range benchRepos {
		repo := fmt.Sprintf("team/app%03d", r)
		for m := range benchPerRepo {
			e := gc.Entry{Repository: repo, Written: time.Now()}
			for range benchBlobsPer {
				o, d := blobObject(fmt.Sprintf("layer %d", n))
				objs = append(objs, o)
				e.Blobs = append(e.Blobs, d)
				n++
			}
			o, d := blobObject(fmt.Sprintf("manifest %s %d", repo, m))
			objs = append(objs, o)
			e.Manifest = d
			e.Blobs = append(e.Blobs, d)
			if err := refs.Put(b.Context(), e); err != nil {
				b.Fatal(err)
			}
			objs = append(objs, benchObject{
				path: fmt.Sprintf("/docker/registry/v2/repositories/%s/_manifests/tags/t%d/current/link", repo, m),
				data: []byte(d),
			}, benchObject{
				path: fmt.Sprintf("/docker/registry/v2/repositories/%s/_manifests/revisions/sha256/%s/link", repo, d.Encoded()),
				data: []byte(d),
			})
		}
	}
	return objs
}

// storeAll writes objs with put, 64 at a time.
func storeAll(b *testing.B, objs []benchObject, put func(ctx context.Context, o benchObject) error) {
	work := make(chan benchObject)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for o := range work {
				if err := put(b.Context(), o); err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatalf("storing the benchmark's objects: %v", *err)
	}
}

// filePut stores an object under the filesystem driver's root.
func filePut(root string) func(context.Context, benchObject) error {
	return func(_ context.Context, o benchObject) error {
		full := filepath.Join(root, o.path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		return os.WriteFile(full, o.data, 0o644)
	}
}

// benchCollector is a collector over driver and store whose clock is
// offset from now (past the grace period or not).
func benchCollector(b *testing.B, driver storagedriver.StorageDriver, store fleet.Store, offset time.Duration) *gc.Collector {
	ns, err := storage.NewRegistry(b.Context(), driver, storage.EnableDelete)
	if err != nil {
		b.Fatal(err)
	}
	clock := func() time.Time { return time.Now().Add(offset) }
	c, err := gc.New(gc.Options{Store: store, Namespace: ns, Driver: driver, Now: clock, MaxDeletions: 100000})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// timedPass runs one pass of c with the benchmark timer on and returns
// its result and the peak heap in use above the heap before it (sampled
// every 5 ms).
func timedPass(b *testing.B, c *gc.Collector) (gc.Result, uint64) {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
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
	return res, peak.Load()
}

// wantDeleted fails unless res deleted exactly n blobs and pruned no
// index entry (every indexed manifest is stored).
func wantDeleted(b *testing.B, res gc.Result, n int) {
	if res.Blobs != n || res.Pruned != 0 {
		b.Fatalf("deleted %d blobs, want %d, pruned %d entries: %+v", res.Blobs, n, res.Pruned, res.Skipped[:min(3, len(res.Skipped))])
	}
}

// BenchmarkGCPass is one pass over 10,000 tagged manifests in 100
// repositories (stored, references indexed, each naming 4 layer blobs and
// its own manifest blob: 50,000 referenced blobs) plus 10,000
// unreferenced blobs with their diff_ids and layer indexes — 60,000
// stored — on the filesystem driver with the in-memory fleet store: time
// per pass (it deletes the 10,000 and what was derived from them, and
// checks 1,000 index entries for a stored manifest) and peak heap. Setup is
// not timed. Run: go test -run '^$' -bench 'BenchmarkGCPass$' -benchtime 1x ./gc
func BenchmarkGCPass(b *testing.B) {
	const garbage = 10000
	var peak uint64
	for range b.N {
		b.StopTimer()
		root := b.TempDir()
		driver := filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 100})
		store := fleet.NewMemory(0)
		storeAll(b, append(benchRegistry(b, store), orphanObjects(garbage)...), filePut(root))
		c := benchCollector(b, driver, store, 48*time.Hour)
		if _, err := c.Backfill(b.Context()); err != nil {
			b.Fatal(err)
		}
		res, p := timedPass(b, c)
		wantDeleted(b, res, garbage)
		derivedLeft(b, driver)
		peak = max(peak, p)
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkGCPassS3 is BenchmarkGCPass's registry on the S3 driver, on the
// test S3 server (SeaweedFS; IMAGEGATE_TEST_S3_ENDPOINT, see
// scripts/seaweedfs.sh), with 5,000 unreferenced blobs (10 % of the
// referenced ones; 55,000 stored), each with its diff_id and layer index.
// The objects are stored once, 64 PUTs in parallel, untimed.
// Sub-benchmarks:
//
//   - nothing: a pass while the 5,000 are younger than the grace period
//     (the whole listing and plan, no deletion);
//   - garbage10pct: a pass past the grace period that deletes the 5,000
//     and what was derived from them (stored again, untimed, before each
//     further iteration).
//
// Each reports the pass's time, its peak heap, and its S3 requests and
// the seconds spent in them by operation (internal/awsmetrics).
// IMAGEGATE_BENCH_GC_BUCKET names the bucket of an earlier run to use
// again (only the 5,000 and their derived objects are stored). Run:
//
//	scripts/seaweedfs.sh start /tmp/gcbench   # prints IMAGEGATE_TEST_S3_ENDPOINT=...
//	IMAGEGATE_TEST_S3_ENDPOINT=... go test -run '^$' -bench BenchmarkGCPassS3 -benchtime 1x -timeout 30m ./gc
func BenchmarkGCPassS3(b *testing.B) {
	const garbage = 5000
	var client *awss3.Client
	var bucket, endpoint string
	reuse := os.Getenv("IMAGEGATE_BENCH_GC_BUCKET")
	if reuse != "" {
		endpoint = os.Getenv("IMAGEGATE_TEST_S3_ENDPOINT")
		bucket, client = reuse, awss3.New(awss3.Options{BaseEndpoint: aws.String(endpoint), Region: s3test.Region, UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(s3test.AccessKey, s3test.SecretKey, "")})
	} else {
		client, bucket, endpoint = s3test.Bucket(b, "imagegate-gcbench-")
	}
	cfg := s3.NewConfig()
	cfg.Bucket, cfg.Region, cfg.RegionEndpoint, cfg.ForcePathStyle = bucket, s3test.Region, endpoint, true
	cfg.RootDirectory, cfg.AccessKey, cfg.SecretKey = "/registry", s3test.AccessKey, s3test.SecretKey
	driver, err := s3.New(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	put := func(ctx context.Context, o benchObject) error {
		_, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket),
			Key: aws.String(strings.TrimPrefix(cfg.RootDirectory, "/") + o.path), Body: bytes.NewReader(o.data)})
		return err
	}
	store := fleet.NewMemory(0)
	start := time.Now()
	orphans := orphanObjects(garbage)
	objs := benchRegistry(b, store)
	if reuse != "" {
		objs = nil // stored by an earlier run
	}
	storeAll(b, append(objs, orphans...), put)
	b.Logf("stored %d objects in bucket %s in %s", len(objs)+len(orphans), bucket, time.Since(start).Round(time.Second))
	if reuse == "" {
		b.Logf("IMAGEGATE_BENCH_GC_BUCKET=%s uses them again", bucket)
	}
	if _, err := benchCollector(b, driver, store, 0).Backfill(b.Context()); err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(awsmetrics.Collectors()...)
	for _, bc := range []struct {
		name    string
		offset  time.Duration
		deleted int
	}{{"nothing", 0, 0}, {"garbage10pct", 48 * time.Hour, garbage}} {
		b.Run(bc.name, func(b *testing.B) {
			var peak uint64
			var reqs map[string]float64
			for i := range b.N {
				b.StopTimer()
				if i > 0 && bc.deleted > 0 {
					storeAll(b, orphans, put)
				}
				c := benchCollector(b, driver, store, bc.offset)
				before := s3Requests(b, reg)
				res, p := timedPass(b, c)
				peak, reqs = max(peak, p), diffCounts(s3Requests(b, reg), before)
				wantDeleted(b, res, bc.deleted)
				if bc.deleted > 0 {
					derivedLeft(b, driver)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			for op, n := range reqs {
				b.ReportMetric(n, "s3-"+op)
			}
		})
	}
}

// s3Requests are the S3 requests counted so far by operation (OP), and
// the seconds they took (OP-s: time in requests, summed over concurrent
// ones).
func s3Requests(b *testing.B, reg *prometheus.Registry) map[string]float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "imagegate_aws_requests_total" && mf.GetName() != "imagegate_aws_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["service"] != "s3" {
				continue
			}
			if c := m.GetCounter(); c != nil {
				out[labels["operation"]] += c.GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				out[labels["operation"]+"-s"] += h.GetSampleSum()
			}
		}
	}
	return out
}

// diffCounts is after minus before, per key, without zeros.
func diffCounts(after, before map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
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
