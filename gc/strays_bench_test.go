package gc_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/internal/awsmetrics"
	"github.com/imagegate/imagegate/internal/testutil/s3test"
	"github.com/imagegate/imagegate/layers"
	"github.com/imagegate/imagegate/oci"
	"github.com/imagegate/imagegate/storagedriver/s3"
)

// strayObjects are n sha512 aliases naming blobs that are not stored,
// and the diff_id and layer index of n other blobs not stored: what a
// pass deletes as strays in full windows (1,000 per tree).
func strayObjects(n int) []benchObject {
	out := make([]benchObject, 0, 3*n)
	for i := range n {
		content := fmt.Sprintf("deleted blob %d", i)
		out = append(out, benchObject{path: oci.BlobAliasPath(digest.SHA512.FromString(content)), data: []byte(digest.FromString(content))})
		d := digest.FromString(fmt.Sprintf("deleted layer %d", i))
		out = append(out,
			benchObject{path: diffid.EntryPaths(d)[0], data: []byte(digest.FromString("tar of " + string(d)))},
			benchObject{path: layers.EntryPaths(d)[0], data: []byte("index of " + d)})
	}
	return out
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStrays is one pass deleting 1,000 aliases of blobs not stored
// and the diff_ids and layer indexes of 1,000 blobs not stored (a full
// window of each tree) in a registry holding nothing else, on the
// filesystem driver and, with IMAGEGATE_TEST_S3_ENDPOINT, on S3: time,
// this process's CPU time, and the S3 requests. Run: go test -run '^$'
// -bench BenchmarkStrays -benchtime 1x ./gc
func BenchmarkStrays(b *testing.B) {
	const n = 1000
	objs := strayObjects(n)
	b.Run("filesystem", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			root := b.TempDir()
			storeAll(b, objs, filePut(root))
			straysPass(b, filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 100}), n, nil)
		}
	})
	b.Run("s3", func(b *testing.B) {
		client, bucket, endpoint := s3test.Bucket(b, "imagegate-straybench-")
		cfg := s3.NewConfig()
		cfg.Bucket, cfg.Region, cfg.RegionEndpoint, cfg.ForcePathStyle = bucket, s3test.Region, endpoint, true
		cfg.RootDirectory, cfg.AccessKey, cfg.SecretKey = "/registry", s3test.AccessKey, s3test.SecretKey
		driver, err := s3.New(b.Context(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(awsmetrics.Collectors()...)
		for range b.N {
			b.StopTimer()
			storeAll(b, objs, func(ctx context.Context, o benchObject) error {
				_, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket),
					Key: aws.String(strings.TrimPrefix(cfg.RootDirectory, "/") + o.path), Body: bytes.NewReader(o.data)})
				return err
			})
			straysPass(b, driver, n, reg)
		}
	})
}

// straysPass runs one timed pass over driver, which holds n strays of
// each kind, and reports its figures.
func straysPass(b *testing.B, driver storagedriver.StorageDriver, n int, reg *prometheus.Registry) {
	store := fleet.NewMemory(0)
	if _, err := benchCollector(b, driver, store, 0).Backfill(b.Context()); err != nil {
		b.Fatal(err)
	}
	c := benchCollector(b, driver, store, 48*time.Hour)
	var before map[string]float64
	if reg != nil {
		before = s3Requests(b, reg)
	}
	cpu := cpuTime(b)
	res, peak := timedPass(b, c)
	cpu = cpuTime(b) - cpu
	if res.Aliases != n || res.DerivedOrphans != 2*n {
		b.Fatalf("deleted %d aliases and %d derived objects, want %d and %d", res.Aliases, res.DerivedOrphans, n, 2*n)
	}
	b.ReportMetric(float64(cpu.Milliseconds()), "cpu-ms")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	if reg != nil {
		for op, v := range diffCounts(s3Requests(b, reg), before) {
			b.ReportMetric(v, "s3-"+op)
		}
	}
	var left []string
	err := driver.Walk(b.Context(), "/imagegate", func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			left = append(left, fi.Path())
		}
		return nil
	})
	if err == nil && len(left) > 0 {
		b.Fatalf("%d strays left, e.g. %s", len(left), left[0])
	}
}
