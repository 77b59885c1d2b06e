package fleet

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The load run's shape (issue #13): 16 pushers and 16 pullers through
// HAProxy for 2 minutes. FLEET_LOAD_DURATION (a Go duration) changes the
// length, for a quick try.
const (
	loadPushers   = 16
	loadPullers   = 16
	loadDuration  = 2 * time.Minute
	loadLayers    = 3         // layers per pushed image
	loadLayerSize = 256 << 10 // bytes per layer
	loadSeeds     = 16        // images pushed before the clock starts, for the pullers
)

// BenchmarkFleetLoad is the bounded load run of docs/scaling.md: a fleet
// of three replicas behind HAProxy; loadPushers goroutines each pushing new
// images (loadLayers random layers each, so every push uploads new blobs,
// scanned in audit mode by the scanner pool) and loadPullers goroutines each pulling a random
// seeded image completely (manifest, config, every layer), all with
// go-containerregistry and the token flow, for loadDuration. It reports
// errors (which must be 0: any error fails the run), p50/p99 latency and
// throughput of pushes and pulls, each replica's and scanner's RSS at the
// start and at the end, the scans per scanner, and where the time went
// (timeBreakdown). It runs once whatever b.N is; run it with -benchtime 1x.
func BenchmarkFleetLoad(b *testing.B) {
	duration := loadDuration
	if v := os.Getenv("FLEET_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("FLEET_LOAD_DURATION=%q: %v", v, err)
		}
		duration = d
	}
	f := startFleet(b, options{})
	seeds := make([]name.Reference, loadSeeds)
	for i := range seeds {
		seeds[i] = mustRef(b, fmt.Sprintf("%s/load/seed:%d", f.lb.Addr, i))
		img, err := random.Image(loadLayerSize, loadLayers)
		if err != nil {
			b.Fatal(err)
		}
		if err := remote.Write(seeds[i], img, rootAuth); err != nil {
			b.Fatalf("seed %s: %v", seeds[i], err)
		}
	}
	rssStart, loadStart := f.rss(b), loadAverage(b)

	var (
		mu                  sync.Mutex
		pushes, pulls       []time.Duration
		pushBytes, pullByte int64
		errs                []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(b.Context(), duration)
	defer cancel()
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for p := range loadPushers {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				img, err := random.Image(loadLayerSize, loadLayers)
				if err != nil {
					fail(err)
					return
				}
				t0 := time.Now()
				err = remote.Write(mustRef(b, fmt.Sprintf("%s/load/p%d:%d", f.lb.Addr, p, n)), img, rootAuth, remote.WithContext(ctx))
				if ctx.Err() != nil {
					return // cut by the end of the run, not a failure
				}
				if err != nil {
					fail(fmt.Errorf("push %d/%d: %w", p, n, err))
					continue
				}
				mu.Lock()
				pushes = append(pushes, time.Since(t0))
				pushBytes += loadLayers * loadLayerSize
				mu.Unlock()
			}
		})
	}
	for range loadPullers {
		wg.Go(func() {
			for ctx.Err() == nil {
				ref := seeds[rand.IntN(len(seeds))]
				t0 := time.Now()
				n, err := pullAll(ctx, ref)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					fail(fmt.Errorf("pull %s: %w", ref, err))
					continue
				}
				mu.Lock()
				pulls = append(pulls, time.Since(t0))
				pullByte += n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	rssEnd := f.rss(b)

	report := []string{
		fmt.Sprintf("%d pushers + %d pullers through HAProxy for %v; errors: %d; load average %s at start, %s at end",
			loadPushers, loadPullers, elapsed.Round(time.Second), len(errs), loadStart, loadAverage(b)),
		latencyLine("push", pushes, pushBytes, elapsed),
		latencyLine("pull", pulls, pullByte, elapsed),
	}
	for i, p := range f.processes() {
		report = append(report, fmt.Sprintf("%s RSS: %d MiB at start, %d MiB at end", p.name, rssStart[i]>>20, rssEnd[i]>>20))
	}
	report = append(report, fmt.Sprintf("scans per scanner: %v (pushes completed: %d)", f.scanCountsSince(b, start), len(pushes)))
	report = append(report, "where the time went (replica access logs, scans):")
	report = append(report, f.timeBreakdown(b, start)...)
	// The whole report on stdout: the testing package keeps only ten
	// lines of a benchmark's log.
	fmt.Println(strings.Join(report, "\n"))
	b.Log("\n" + strings.Join(report[:3], "\n"))
	b.ReportMetric(float64(len(pushes))/elapsed.Seconds(), "pushes/s")
	b.ReportMetric(float64(len(pulls))/elapsed.Seconds(), "pulls/s")
	b.ReportMetric(float64(len(errs)), "errors")
	for i, err := range errs {
		if i == 10 {
			b.Errorf("… and %d more errors", len(errs)-10)
			break
		}
		b.Error(err)
	}
	if len(pushes) == 0 || len(pulls) == 0 {
		b.Errorf("%d pushes and %d pulls completed: the run measured nothing", len(pushes), len(pulls))
	}
}

// pullAll reads ref's manifest, config and every layer through and returns
// the layer bytes read.
func pullAll(ctx context.Context, ref name.Reference) (int64, error) {
	img, err := remote.Image(ref, rootAuth, remote.WithContext(ctx))
	if err != nil {
		return 0, err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return 0, fmt.Errorf("config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return total, err
		}
		n, err := io.Copy(io.Discard, rc)
		_ = rc.Close()
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// latencyLine formats the count, p50, p99 and throughput of one kind of operation.
func latencyLine(what string, ds []time.Duration, bytes int64, elapsed time.Duration) string {
	if len(ds) == 0 {
		return what + ": none completed"
	}
	slices.Sort(ds)
	pct := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return fmt.Sprintf("%s: %d in all, %.1f/s, %.1f MiB/s; p50 %v, p99 %v, max %v", what, len(ds),
		float64(len(ds))/elapsed.Seconds(), float64(bytes)/(1<<20)/elapsed.Seconds(),
		pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
}

// process is one process of a fleet, named for reports.
type process struct {
	name string
	pid  int
}

// processes are the fleet's replicas, then its scanners.
func (f *fleet) processes() []process {
	var out []process
	for i, r := range f.replicas {
		out = append(out, process{fmt.Sprintf("replica %d", i+1), r.Pid()})
	}
	for i, s := range f.scanners {
		out = append(out, process{fmt.Sprintf("scanner %d", i+1), s.pid()})
	}
	return out
}

// rss returns the resident set size in bytes (/proc/PID/status VmRSS) of
// each of f.processes(), in that order.
func (f *fleet) rss(t testing.TB) []int64 {
	t.Helper()
	procs := f.processes()
	out := make([]int64, len(procs))
	for i, p := range procs {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/status")
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err != nil {
					t.Fatalf("%s: VmRSS %q: %v", p.name, v, err)
				}
				out[i] = kb << 10
			}
		}
	}
	return out
}

// loadAverage is the machine's 1-, 5- and 15-minute load averages.
func loadAverage(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Fatalf("load average: %v", err)
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// scanCountsSince is how many scans each scanner logged from since on.
func (f *fleet) scanCountsSince(t testing.TB, since time.Time) []int {
	t.Helper()
	out := make([]int, len(f.scanners))
	for i, s := range f.scanners {
		for _, l := range s.scans(t) {
			if !l.Time.Before(since) {
				out[i]++
			}
		}
	}
	return out
}
