package upload

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// Environment of TestTarballDoorBench.
const (
	// envTarballBench turns the bench on (it writes and uploads GiBs).
	envTarballBench = "IMAGEGATE_TARBALL_BENCH"
	// envBenchRounds is the number of interleaved rounds (default 3).
	envBenchRounds = "IMAGEGATE_BENCH_ROUNDS"
	// envBenchDoors lists the doors to run, comma-separated (default
	// imagegate,skopeo,none; zstd is the fourth).
	envBenchDoors = "IMAGEGATE_BENCH_DOORS"
	// envBenchKinds lists the data kinds, comma-separated (default
	// compressible,incompressible).
	envBenchKinds = "IMAGEGATE_BENCH_KINDS"
	// envBenchProfile, when set, is a path prefix: the first round's
	// imagegate uploads write CPU profiles of the process there
	// (<prefix>-<kind>-<door>.pprof).
	envBenchProfile = "IMAGEGATE_BENCH_CPUPROFILE"
	// envBenchTrace, when set, is a path prefix: the first round's
	// imagegate uploads write a Go execution trace of the process there
	// (<prefix>-<kind>-<door>.trace), for `go tool trace` and its
	// -pprof=sync|sched|net|syscall profiles of what waited on what.
	envBenchTrace = "IMAGEGATE_BENCH_TRACE"
)

// Doors of the tarball bench: imagegate's /upload-image with the default
// gzip layers, skopeo copy docker-archive: into the same server, and
// /upload-image with upload.layercompression: none, or zstd (one more
// server each).
const (
	doorImagegate = "imagegate"
	doorSkopeo    = "skopeo"
	doorNone      = "none"
	doorZstd      = "zstd"
)

// doorSample is one measured upload.
type doorSample struct {
	mbps      float64 // archive MB (1e6) per second, wall clock
	serverCPU float64 // CPU seconds of this process (server + in-process client)
	clientCPU float64 // CPU seconds of skopeo (0 for the in-process client)
	peakMiB   float64 // peak RSS of this process during the upload
}

// TestTarballDoorBench measures the tarball door against skopeo on
// generated `docker save` tarballs (IMAGEGATE_BENCH_MIB, default 1024 MiB)
// of compressible (text-like, about 3:1) and incompressible (random)
// layers: rounds interleave imagegate, skopeo into the same server, and
// imagegate with layercompression none; each round uses fresh servers and
// repositories so nothing is deduplicated (nor mounted from skopeo's blob
// cache). It prints medians of the rounds and the disk's write+fsync
// limit measured in the same directory. The server runs in this process,
// so its CPU and RSS are the server's: the uploads go through curl when it is on
// PATH (its CPU counted as the client's, like skopeo's), else from this process.
//
//	IMAGEGATE_TARBALL_BENCH=1 SKOPEO_BIN=$(command -v skopeo) \
//	  go test ./test/upload -run '^TestTarballDoorBench$' -v -timeout 60m
func TestTarballDoorBench(t *testing.T) {
	if os.Getenv(envTarballBench) == "" {
		t.Skipf("set %s=1 to run the tarball door bench (writes and uploads GiBs)", envTarballBench)
	}
	doors := envList(envBenchDoors, doorImagegate, doorSkopeo, doorNone)
	skopeo := ""
	if slices.Contains(doors, doorSkopeo) {
		skopeo = liveserver.RequireBinary(t, envSkopeoBin)
	}
	mib := envInt(envBenchMiB, 1024)
	rounds := envInt(envBenchRounds, 3)
	dir := t.TempDir()
	type kind struct {
		name   string
		random bool
		path   string
		size   int64
	}
	var kinds []*kind
	for _, k := range envList(envBenchKinds, "compressible", "incompressible") {
		kd := &kind{name: k, random: k == "incompressible", path: filepath.Join(dir, k+".tar")}
		if err := writeBenchTarball(kd.path, int64(mib)<<20, kd.random); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(kd.path)
		if err != nil {
			t.Fatal(err)
		}
		kd.size = fi.Size()
		kinds = append(kinds, kd)
	}
	disk := diskWriteLimit(t, dir, 1<<30)
	load0 := loadAverage()
	samples := map[string][]doorSample{}
	for r := range rounds {
		for _, k := range kinds {
			t.Run(fmt.Sprintf("round%d/%s", r+1, k.name), func(t *testing.T) {
				s := start(t, nil)
				servers := map[string]*testServer{doorImagegate: s, doorSkopeo: s}
				for _, d := range []string{doorNone, doorZstd} {
					if slices.Contains(doors, d) {
						servers[d] = start(t, func(c *config.Config) { c.Upload.LayerCompression = d })
					}
				}
				order := slices.Clone(doors)
				rotate(order, r) // who goes first changes each round
				for _, d := range order {
					var profile profiles
					if r == 0 && d != doorSkopeo {
						if p := os.Getenv(envBenchProfile); p != "" {
							profile.cpu = fmt.Sprintf("%s-%s-%s.pprof", p, k.name, d)
						}
						if p := os.Getenv(envBenchTrace); p != "" {
							profile.trace = fmt.Sprintf("%s-%s-%s.trace", p, k.name, d)
						}
					}
					repo := fmt.Sprintf("bench/%s-%s-%d", d, k.name, r)
					var smp doorSample
					if d == doorSkopeo {
						smp = benchSkopeo(t, s, skopeo, k.path, k.size, repo)
					} else {
						smp = benchUpload(t, servers[d], k.path, k.size, repo, profile)
					}
					t.Logf("%s %s: %.0f MB/s, server CPU %.1f s, peak RSS %.0f MiB", k.name, d, smp.mbps, smp.serverCPU, smp.peakMiB)
					samples[k.name+"/"+d] = append(samples[k.name+"/"+d], smp)
				}
			})
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\ntarball door, %d MiB docker save, medians of %d rounds; disk write+fsync %.0f MB/s; load average %s → %s; GOMAXPROCS %d\n",
		mib, rounds, disk, load0, loadAverage(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(&out, "| data | door | MB/s | × skopeo | %% of disk | server CPU-s | client CPU-s | × skopeo in CPU | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range kinds {
		sk := samples[k.name+"/"+doorSkopeo]
		for _, d := range doors {
			ss := samples[k.name+"/"+d]
			if len(ss) == 0 {
				continue
			}
			ratio, cpuRatio := "–", "–"
			if len(sk) == len(ss) && d != doorSkopeo {
				// CPU seconds per upload do not move with the machine's load
				// as wall-clock rates do: skopeo's and its server's against
				// the door's client's (curl) and server's.
				var cs []float64
				for i := range ss {
					cs = append(cs, (sk[i].serverCPU+sk[i].clientCPU)/(ss[i].serverCPU+ss[i].clientCPU))
				}
				cpuRatio = fmt.Sprintf("%.2f", median(cs))
				// The median of the per-round ratios: each pair ran side by side.
				var rs []float64
				for i := range ss {
					rs = append(rs, ss[i].mbps/sk[i].mbps)
				}
				ratio = fmt.Sprintf("%.2f", median(rs))
			}
			mbps := median(field(ss, func(s doorSample) float64 { return s.mbps }))
			fmt.Fprintf(&out, "| %s | %s | %.0f | %s | %.0f %% | %.1f | %.1f | %s | %.0f |\n", k.name, d, mbps, ratio, 100*mbps/disk,
				median(field(ss, func(s doorSample) float64 { return s.serverCPU })),
				median(field(ss, func(s doorSample) float64 { return s.clientCPU })), cpuRatio,
				slices.Max(field(ss, func(s doorSample) float64 { return s.peakMiB })))
		}
	}
	fmt.Print(out.String())
}

// envBenchMiB is the size of the generated tarballs in MiB.
const envBenchMiB = "IMAGEGATE_BENCH_MIB"

// benchUpload posts the archive at path to s's /upload-image: with curl
// when it is on PATH (so that the process's CPU and RSS are the server's
// alone, and the client's CPU is counted like skopeo's), else from this
// process.
func benchUpload(t *testing.T, s *testServer, path string, size int64, repo string, profile profiles) doorSample {
	t.Helper()
	u := s.url("/upload-image?repository=" + repo + "&tag=1")
	if curl, err := exec.LookPath("curl"); err == nil {
		settle()
		stop := startProfile(t, profile)
		start, cpu0 := time.Now(), cpuTime(t)
		// -T streams the file (--data-binary @file would read it into memory).
		cmd := exec.CommandContext(context.Background(), curl, "-sS", "-X", "POST", "-T", path,
			"-H", "Content-Type: application/x-tar", "-w", "\n%{http_code}", u)
		out, err := cmd.CombinedOutput()
		elapsed := time.Since(start)
		cpu := cpuTime(t) - cpu0
		stop()
		if err != nil || !bytes.HasSuffix(out, []byte("\n201")) {
			t.Fatalf("curl upload: %v\n%s", err, out)
		}
		return doorSample{mbps: float64(size) / 1e6 / elapsed.Seconds(), serverCPU: cpu.Seconds(),
			clientCPU: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds(),
			peakMiB:   float64(peakRSS(t)) / (1 << 20)}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settle()
	stop := startProfile(t, profile)
	start, cpu0 := time.Now(), cpuTime(t)
	r := s.upload(t, "/upload-image", "repository="+repo+"&tag=1", bufio.NewReaderSize(f, 1<<20),
		http.Header{"Content-Length": {strconv.FormatInt(size, 10)}})
	elapsed := time.Since(start)
	cpu := cpuTime(t) - cpu0
	stop()
	if r.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	return doorSample{mbps: float64(size) / 1e6 / elapsed.Seconds(), serverCPU: cpu.Seconds(), peakMiB: float64(peakRSS(t)) / (1 << 20)}
}

// benchSkopeo copies the archive at path into s with skopeo.
func benchSkopeo(t *testing.T, s *testServer, bin, path string, size int64, repo string) doorSample {
	t.Helper()
	settle()
	start, cpu0 := time.Now(), cpuTime(t)
	cmd := exec.CommandContext(context.Background(), bin, "copy", "--quiet", "--dest-tls-verify=false",
		"docker-archive:"+path, "docker://"+s.host+"/"+repo+":1")
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("skopeo: %v\n%s", err, out)
	}
	return doorSample{mbps: float64(size) / 1e6 / elapsed.Seconds(), serverCPU: (cpuTime(t) - cpu0).Seconds(),
		clientCPU: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds(),
		peakMiB:   float64(peakRSS(t)) / (1 << 20)}
}

// settle collects garbage and resets the peak RSS before a measurement.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// profiles are the files an upload is profiled into; "" for none.
type profiles struct {
	cpu   string // CPU profile (pprof)
	trace string // execution trace (runtime/trace)
}

// startProfile starts the profiles p names; the returned func stops them.
func startProfile(t *testing.T, p profiles) func() {
	var stops []func()
	if p.cpu != "" {
		f, err := os.Create(p.cpu)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); _ = f.Close() })
	}
	if p.trace != "" {
		f, err := os.Create(p.trace)
		if err != nil {
			t.Fatal(err)
		}
		if err := trace.Start(f); err != nil {
			t.Fatal(err)
		}
		stops = append(stops, func() { trace.Stop(); _ = f.Close() })
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// diskWriteLimit writes n bytes to a file in dir, fsyncs it, and returns
// the rate in MB/s: the ceiling of any door storing on that disk.
func diskWriteLimit(t *testing.T, dir string, n int) float64 {
	t.Helper()
	path := filepath.Join(dir, "disk-limit")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, 4<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	start := time.Now()
	for w := 0; w < n; w += len(buf) {
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return float64(n) / 1e6 / time.Since(start).Seconds()
}

// loadAverage is the machine's 1-minute load average, or "?".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// envInt reads a positive integer from the environment, else def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// envList reads a comma-separated list from the environment, else def.
func envList(name string, def ...string) []string {
	if v := os.Getenv(name); v != "" {
		return strings.Split(v, ",")
	}
	return def
}

// rotate moves the first r%len(s) elements of s to its end.
func rotate(s []string, r int) {
	if len(s) == 0 {
		return
	}
	r %= len(s)
	tmp := append(slices.Clone(s[r:]), s[:r]...)
	copy(s, tmp)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func field(ss []doorSample, f func(doorSample) float64) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}
