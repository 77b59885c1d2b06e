// Package s3bench compares imagegate on S3 with distribution v3.1.2's own
// registry and its s3-aws driver (aws-sdk-go v1), both on the same S3
// server (SeaweedFS), in one run: a 1 GiB blob uploaded monolithically, the
// same size uploaded in chunks, and a 1 GiB pull. It reports MB/s per
// registry and operation, and the peak RSS (VmHWM) of each server process
// during each operation (reset through /proc/PID/clear_refs before it).
//
//	scripts/seaweedfs.sh start /tmp/s3bench        # prints IMAGEGATE_TEST_S3_ENDPOINT=...
//	export IMAGEGATE_TEST_S3_ENDPOINT=http://127.0.0.1:PORT
//	GOEXPERIMENT=jsonv2 go test -run '^$' -bench . -benchtime 1x -timeout 30m ./test/s3bench/
//
// IMAGEGATE_BENCH_S3_SIZE changes the blob size (e.g. 256MiB for a quick
// run), IMAGEGATE_BENCH_CHUNK the PATCH size of chunked uploads (default
// 32MiB). The distribution binary comes from scripts/build-distribution.sh
// (built once, cached; never part of this module).
package s3bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/internal/procstat"
)

const (
	accessKey = "AK"
	secretKey = "SK"
	partSize  = 10 << 20 // both registries' chunksize
	// imagegateConcurrency is imagegate's default uploadconcurrency.
	imagegateConcurrency = 4
)

// registryProc is one registry server under test.
type registryProc struct {
	name string
	url  string
	cmd  *exec.Cmd
}

func BenchmarkRegistriesOnS3(b *testing.B) {
	endpoint := os.Getenv("IMAGEGATE_TEST_S3_ENDPOINT")
	if endpoint == "" {
		b.Fatal("IMAGEGATE_TEST_S3_ENDPOINT is not set: scripts/seaweedfs.sh start DIR prints it")
	}
	size := sizeEnv(b, "IMAGEGATE_BENCH_S3_SIZE", 1<<30)
	chunk := sizeEnv(b, "IMAGEGATE_BENCH_CHUNK", 32<<20)
	root := repoRoot(b)
	work := b.TempDir()

	distBin := strings.TrimSpace(run(b, root, "bash", "scripts/build-distribution.sh"))
	igBin := filepath.Join(work, "imagegate")
	run(b, root, "go", "build", "-o", igBin, "./cmd/imagegate")

	regs := []*registryProc{
		startImagegate(b, igBin, filepath.Join(work, "imagegate-run"), endpoint, newBucket(b, endpoint, "ig-bench-imagegate")),
		startDistribution(b, distBin, filepath.Join(work, "distribution-run"), endpoint, newBucket(b, endpoint, "ig-bench-distribution")),
	}

	// Two data sets (one per upload style), their digests computed once.
	mono, chunked := newData(size), newData(size)
	type result struct {
		reg, op string
		mbps    float64
		hwm     int64 // peak RSS (VmHWM) during the operation
		anon    int64 // peak anonymous RSS (RssAnon sampled every 20 ms)
	}
	var results []result
	b.ResetTimer()
	for range b.N {
		for _, r := range regs {
			repo := "bench/" + strings.ToLower(r.name)
			for _, op := range []struct {
				name string
				f    func() error
			}{
				{"monolithic", func() error { return pushMonolithic(r.url, repo, mono) }},
				{"chunked", func() error { return pushChunked(r.url, repo, chunked, chunk) }},
				{"pull", func() error { return pull(r.url, repo, mono) }},
			} {
				resetHWM(b, r.cmd.Process.Pid)
				runtime.GC()
				anon := procstat.SamplePeak(r.cmd.Process.Pid, "RssAnon")
				start := time.Now()
				err := op.f()
				el := time.Since(start)
				anonPeak := anon()
				if err != nil {
					b.Fatalf("%s %s: %v", r.name, op.name, err)
				}
				res := result{r.name, op.name, float64(size) / 1e6 / el.Seconds(), statusKB(b, r.cmd.Process.Pid, "VmHWM"), anonPeak}
				results = append(results, res)
				b.ReportMetric(res.mbps, r.name+"-"+op.name+"-MB/s")
				b.ReportMetric(float64(res.hwm)/(1<<20), r.name+"-"+op.name+"-peakRSS-MiB")
				b.ReportMetric(float64(res.anon)/(1<<20), r.name+"-"+op.name+"-peakAnonRSS-MiB")
			}
		}
	}
	b.StopTimer()
	var out strings.Builder
	fmt.Fprintf(&out, "\n%d MiB blob, %d MiB chunks, part size %d MiB, imagegate upload concurrency %d (RSS target %d MiB)\n",
		size>>20, chunk>>20, partSize>>20, imagegateConcurrency, (partSize*imagegateConcurrency+64<<20)>>20)
	fmt.Fprintf(&out, "%-13s %-11s %10s %14s %19s\n", "registry", "operation", "MB/s", "peak RSS MiB", "peak anon RSS MiB")
	for _, r := range results {
		fmt.Fprintf(&out, "%-13s %-11s %10.1f %14.1f %19.1f\n", r.reg, r.op, r.mbps, float64(r.hwm)/(1<<20), float64(r.anon)/(1<<20))
	}
	for _, op := range []string{"monolithic", "chunked", "pull"} {
		var ig, di float64
		for _, r := range results {
			if r.op == op && r.reg == "imagegate" {
				ig += r.mbps
			} else if r.op == op {
				di += r.mbps
			}
		}
		fmt.Fprintf(&out, "%-11s imagegate/distribution throughput: %.2f×\n", op, ig/di)
	}
	b.Log(out.String())
}
