package gate

import (
	"archive/tar"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"

	"github.com/imagegate/imagegate/config"
)

// BenchmarkPushAnalysis measures what the layer analysis adds to a push
// with the scanner on: a generated image of IMAGEGATE_BENCH_MIB MiB
// (default 1024) in 20 gzip layers (files of 1 KiB–512 KiB, half random,
// half text; an apt cache added in layer 3 and deleted in layer 4) is
// pushed with go-containerregistry to a fresh server per round, the
// analysis off then on (alternating, IMAGEGATE_BENCH_ROUNDS rounds,
// default 2), Trivy scanning in audit mode. It reports the wall time of
// each push, the on/off ratio of the medians and the process's peak RSS
// (server and client share it) during each push. Run with -benchtime=1x:
//
//	go test ./test/gate -run '^$' -bench PushAnalysis -benchtime 1x
func BenchmarkPushAnalysis(b *testing.B) {
	mib := envInt("IMAGEGATE_BENCH_MIB", 1024)
	rounds := envInt("IMAGEGATE_BENCH_ROUNDS", 2)
	scanPolicy := policy("audit", "HIGH", func(p *config.ScanPolicy) { p.OnError = "accept" })
	// Warm up (Trivy's DB, the first server's start) off the clock.
	warm, _ := serverWith(b, func(*config.Config) {}, scanPolicy)
	if err := push(b, warm, "bench/warm:1", benchImage(b, 4<<20, 2, 0)); err != nil {
		b.Fatal(err)
	}
	times, gates := map[string][]time.Duration{}, map[string][]time.Duration{}
	peaks := map[string]int64{}
	for round := range rounds {
		for k, mode := range []string{"off", "audit"} {
			// A new image each push: Trivy's layer cache (by diff_id) is
			// shared by the servers of this process and would skip the scan.
			img := benchImage(b, int64(mib)<<20, 20, uint64(1+2*round+k))
			host, records := serverWith(b, func(c *config.Config) {
				c.Analysis.Policies = []config.AnalysisPolicy{{Repositories: "**", Mode: mode}}
				c.Scan.Timeout = 30 * time.Minute
			}, scanPolicy)
			runtime.GC()
			debug.FreeOSMemory()
			resetPeak(b)
			start := time.Now()
			ref, _ := name.ParseReference(fmt.Sprintf("%s/bench/app:%s-%d", host, mode, round), name.Insecure)
			gate := &manifestTimer{rt: http.DefaultTransport}
			if err := remote.Write(ref, img, remote.WithTransport(gate)); err != nil {
				b.Fatalf("push (analysis %s): %v", mode, err)
			}
			took := time.Since(start)
			gates[mode] = append(gates[mode], gate.took)
			recs := records("bench/app")
			if len(recs) != 1 || recs[0].Scan == nil || recs[0].Scan.Error != "" || (mode == "audit") != (recs[0].Analysis != nil) {
				b.Fatalf("push (analysis %s) was not scanned, or analysed when it should not be: %+v", mode, recs)
			}
			times[mode] = append(times[mode], took)
			peaks[mode] = max(peaks[mode], procStatusBytes(b, "VmHWM:"))
			b.Logf("round %d, analysis %-5s: push %s (manifest PUT: the gate, %s), peak RSS %.0f MiB", round+1, mode,
				took.Round(time.Millisecond), gate.took.Round(time.Millisecond), float64(procStatusBytes(b, "VmHWM:"))/(1<<20))
		}
	}
	off, on := median(times["off"]), median(times["audit"])
	b.ReportMetric(off.Seconds(), "s-push-analysis-off")
	b.ReportMetric(on.Seconds(), "s-push-analysis-on")
	b.ReportMetric(on.Seconds()/off.Seconds(), "ratio")
	gateOff, gateOn := median(gates["off"]), median(gates["audit"])
	b.ReportMetric(gateOff.Seconds(), "s-gate-analysis-off")
	b.ReportMetric(gateOn.Seconds(), "s-gate-analysis-on")
	b.ReportMetric(float64(peaks["off"])/(1<<20), "MiB-peak-off")
	b.ReportMetric(float64(peaks["audit"])/(1<<20), "MiB-peak-on")
}

// benchImage writes n gzip layers of size/n bytes of files to a temporary
// directory and returns the image over them, each layer with a history
// command; seed makes its content (and so its diff_ids) its own.
func benchImage(b *testing.B, size int64, n int, seed uint64) v1.Image {
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(seed, 2))
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog; ", 12000))
	img := empty.Image
	for i := range n {
		path := filepath.Join(dir, fmt.Sprintf("layer%02d.tar.gz", i))
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		var written int64
		for j := 0; written < size/int64(n); j++ {
			name := fmt.Sprintf("usr/share/app%02d/dir%03d/file%05d", i, j%100, j)
			switch {
			case i == 3 && j%4 == 0:
				name = fmt.Sprintf("var/cache/apt/archives/pkg%05d.deb", j)
			case i == 4 && j < 50:
				name = fmt.Sprintf("var/cache/apt/archives/.wh.pkg%05d.deb", j*4)
			}
			sz := int64(1<<10 + rng.IntN(511<<10))
			if strings.Contains(name, ".wh.") {
				sz = 0
			}
			content := make([]byte, sz)
			if j%2 == 0 {
				for k := range content {
					content[k] = byte(rng.Uint32())
				}
			} else {
				copy(content, text)
				if sz > 0 {
					content[0] = byte(seed) // no two images share a layer
				}
			}
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: sz, Typeflag: tar.TypeReg}); err != nil {
				b.Fatal(err)
			}
			if _, err := tw.Write(content); err != nil {
				b.Fatal(err)
			}
			written += sz + 512
		}
		if err := tw.Close(); err != nil {
			b.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return os.Open(path) })
		if err != nil {
			b.Fatal(err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: fmt.Sprintf("/bin/sh -c make layer-%d", i)}}); err != nil {
			b.Fatal(err)
		}
	}
	return img
}

// manifestTimer times the manifest PUT of a push: the request the gate
// answers (validate, analyze, scan, record, store).
type manifestTimer struct {
	rt   http.RoundTripper
	took time.Duration
}

func (m *manifestTimer) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := m.rt.RoundTrip(r)
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
		m.took += time.Since(start)
	}
	return resp, err
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// resetPeak resets this process's peak RSS (VmHWM), where Linux allows it.
func resetPeak(b testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS (%v): it covers the whole run", err)
	}
}

// procStatusBytes reads a kB field of /proc/self/status, in bytes.
func procStatusBytes(b testing.TB, field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
