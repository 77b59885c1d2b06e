// Command imagegate-bench measures imagegate's blob ingest and pull side by
// side with distribution's own registry (v3.1.2, scripts/build-distribution.sh)
// on the same disk: both zero-config on the filesystem driver, interleaved
// rounds, medians, MB/s and server CPU seconds per GB (from /proc/PID/stat),
// plus the machine's one-stream limits (sha256, disk write + fsync,
// loopback) measured by the same run; then the tarball door
// (POST /upload-image) against skopeo on compressible and incompressible
// docker save tarballs (tarball.go). `make bench` runs it; `-quick` is a
// smoke run on small sizes. Rows live in cases.go: add one Case per row.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	imagegate, distribution, crane, workdir, profile, only string
	size, chunk, image                                     int64
	rounds, concurrent                                     int
	quick, keep                                            bool
	env                                                    multiFlag
	tar                                                    tarOptions // the tarball door's rows (tarball.go)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var o options
	flag.StringVar(&o.imagegate, "imagegate", "bin/imagegate", "imagegate `binary`")
	flag.StringVar(&o.distribution, "distribution", "", "distribution registry `binary` (scripts/build-distribution.sh prints it)")
	flag.StringVar(&o.crane, "crane", os.Getenv("CRANE_BIN"), "crane `binary` (scripts/install-clients.sh; empty skips the crane row)")
	flag.StringVar(&o.workdir, "workdir", os.TempDir(), "`dir` for the data and both servers' storage (one disk)")
	flag.StringVar(&o.profile, "profile", "", "write imagegate CPU profiles of the rows (-only; default monolithic,chunked; tarball: each door and kind) to `dir` instead of the table (needs -imagegate-env IMAGEGATE_DEBUG_PPROF=true)")
	flag.StringVar(&o.only, "only", "", "comma-separated row names to run (default all)")
	flag.Int64Var(&o.size, "size", 1<<30, "blob `bytes` (monolithic, chunked, pull; concurrent splits it)")
	flag.Int64Var(&o.chunk, "chunk", 64<<20, "PATCH `bytes` of the chunked upload")
	flag.Int64Var(&o.image, "image", 512<<20, "crane image layer `bytes` (4 layers)")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved `rounds` (medians over them)")
	flag.IntVar(&o.concurrent, "concurrent", 8, "concurrent uploads (size/concurrent bytes each)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (data, servers' storage and logs)")
	flag.BoolVar(&o.quick, "quick", false, "smoke run: 64 MiB blobs, 8 MiB PATCHes, 32 MiB image, 32 MiB tarballs, 1 round")
	o.tar.register(flag.CommandLine)
	flag.Var(&o.env, "imagegate-env", "`KEY=VALUE` for imagegate (repeatable), e.g. IMAGEGATE_STORAGE_FILESYSTEM_WRITER=distribution")
	flag.Parse()
	if o.quick {
		o.size, o.chunk, o.image, o.rounds, o.tar.size = 64<<20, 8<<20, 32<<20, 1, quickTarball
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "imagegate-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	if o.distribution == "" {
		return errors.New("-distribution is required (bash scripts/build-distribution.sh prints its path)")
	}
	// The servers run in their own directories: make the paths absolute.
	for _, p := range []*string{&o.imagegate, &o.distribution, &o.crane} {
		if *p == "" {
			continue
		}
		found, err := exec.LookPath(*p)
		if err != nil {
			return err
		}
		if *p, err = filepath.Abs(found); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp(o.workdir, "imagegate-bench-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	fmt.Fprintf(out, "load before: %s\n", loadavg())
	fmt.Fprintf(os.Stderr, "generating %d MiB of random data in %s...\n", o.size>>20, dir)
	data, err := generate(dir, o.size, o.concurrent, o.image, 4)
	if err != nil {
		return fmt.Errorf("generating data: %w", err)
	}
	env := &Env{Data: data, Crane: o.crane, Chunk: o.chunk, Concurrent: o.concurrent}

	var lim Limits
	if o.profile == "" {
		if lim, err = measureLimits(dir, o.size); err != nil {
			return fmt.Errorf("measuring limits: %w", err)
		}
		fmt.Fprintf(out, "machine limits (one stream): sha256 %.0f MB/s per core, disk write+fsync %.0f MB/s, loopback %.0f MB/s\n",
			lim.SHA256, lim.Disk, lim.Loopback)
	}

	igDir, distDir := filepath.Join(dir, "imagegate"), filepath.Join(dir, "distribution")
	for _, d := range []string{igDir, distDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	// The servers map the binary as read from disk, not as the linker
	// left it in the page cache (coldbinary.go).
	if err := dropCachedPages(o.imagegate); err != nil {
		return err
	}
	ig, err := startImagegate(o.imagegate, igDir, o.env)
	if err != nil {
		return err
	}
	defer ig.Stop()
	if o.profile != "" {
		rows := o.only
		if rows == "" {
			rows = "monolithic,chunked"
		}
		if err := profile(ctx, env, ig, o.profile, rows, out); err != nil {
			return err
		}
		return profileTarball(ctx, o, dir, rows, out)
	}
	dist, err := startDistribution(o.distribution, distDir)
	if err != nil {
		return err
	}
	defer dist.Stop()

	rows := selected(o.only)
	res := map[string]*result{}
	for r := range o.rounds {
		if r > 0 {
			if err := data.NewLayout(dir, r); err != nil {
				return fmt.Errorf("round %d: new image layout: %w", r+1, err)
			}
		}
		for _, c := range rows {
			if c.Skip != nil && c.Skip(env) != "" {
				continue
			}
			servers := []*Server{ig, dist}
			if r%2 == 1 { // interleave: who goes first alternates
				servers = []*Server{dist, ig}
			}
			for _, s := range servers {
				m, err := measure(ctx, env, c, s, r)
				if err != nil {
					return fmt.Errorf("round %d, %s: %w", r+1, c.Name, err)
				}
				key := c.Name + "\x00" + s.Name
				if res[key] == nil {
					res[key] = &result{}
				}
				res[key].add(m)
				fmt.Fprintf(os.Stderr, "round %d %-12s %-12s %7.0f MB/s %5.2f CPU s/GB\n", r+1, c.Name, s.Name, m.mbps, m.cpuPerGB)
			}
		}
	}
	fmt.Fprintf(out, "load after: %s\n\n", loadavg())
	if len(rows) > 0 {
		printTable(out, env, rows, res, o.rounds)
	}
	dist.Stop()
	ig.Stop()
	return runTarball(ctx, o, dir, lim.Disk, out)
}

func selected(only string) []Case {
	if only == "" {
		return cases
	}
	names := strings.Split(only, ",")
	var out []Case
	for _, c := range cases {
		if slices.Contains(names, c.Name) {
			out = append(out, c)
		}
	}
	return out
}

type measurement struct{ mbps, cpuPerGB float64 }

type result struct{ ms []measurement }

func (r *result) add(m measurement) { r.ms = append(r.ms, m) }

func (r *result) median(f func(measurement) float64) float64 {
	v := make([]float64, len(r.ms))
	for i, m := range r.ms {
		v[i] = f(m)
	}
	return medianOf(v)
}

// measure runs c against s once: prepares (untimed), flushes the page
// cache's dirty pages (so one server's writeback never lands in the
// other's time), then times Run and charges s's CPU time.
func measure(ctx context.Context, e *Env, c Case, s *Server, round int) (measurement, error) {
	if c.Prepare != nil {
		if _, done := prepared.LoadOrStore(c.Name+"\x00"+s.Name, true); !done {
			if err := c.Prepare(ctx, e, s); err != nil {
				return measurement{}, fmt.Errorf("prepare: %w", err)
			}
		}
	}
	syscall.Sync()
	run := c.Run
	if c.Baseline != nil && s.Name != "imagegate" {
		run = c.Baseline
	}
	cpu0, err := CPUSeconds(s.Pid())
	if err != nil {
		return measurement{}, err
	}
	t := time.Now()
	if err := run(ctx, e, s, round); err != nil {
		return measurement{}, err
	}
	d := time.Since(t)
	cpu1, err := CPUSeconds(s.Pid())
	if err != nil {
		return measurement{}, err
	}
	n := c.Bytes(e)
	return measurement{mbps: mbps(n, d), cpuPerGB: (cpu1 - cpu0) / (float64(n) / 1e9)}, nil
}

func printTable(out io.Writer, e *Env, rows []Case, res map[string]*result, rounds int) {
	fmt.Fprintf(out, "medians of %d interleaved rounds; blob %d MiB, PATCH %d MiB, %d concurrent × %d MiB, image %d MiB\n\n",
		rounds, e.Data.Size>>20, e.Chunk>>20, e.Concurrent, e.Data.SectionSize()>>20, e.Data.Image>>20)
	fmt.Fprintln(out, "| measurement | imagegate MB/s | distribution MB/s | ratio | imagegate CPU s/GB | distribution CPU s/GB |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	for _, c := range rows {
		if c.Skip != nil {
			if why := c.Skip(e); why != "" {
				fmt.Fprintf(out, "| %s | skipped: %s | | | | |\n", c.Name, why)
				continue
			}
		}
		a, b := res[c.Name+"\x00imagegate"], res[c.Name+"\x00distribution"]
		speed := func(m measurement) float64 { return m.mbps }
		cpu := func(m measurement) float64 { return m.cpuPerGB }
		fmt.Fprintf(out, "| %s | %.0f | %.0f | %.2f | %.2f | %.2f |\n", c.Name, a.median(speed), b.median(speed),
			a.median(speed)/b.median(speed), a.median(cpu), b.median(cpu))
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

// profile takes one CPU profile of imagegate per upload row, repeating the
// row for the profile's duration, and writes them to dir.
func profile(ctx context.Context, e *Env, ig *Server, dir, rows string, out io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, c := range selected(rows) {
		path := filepath.Join(dir, strings.ReplaceAll(c.Name, " ", "-")+".pprof")
		if c.Prepare != nil {
			if err := c.Prepare(ctx, e, ig); err != nil {
				return fmt.Errorf("%s: preparing: %w", c.Name, err)
			}
		}
		runs, err := whileProfiling(ig, path, 10, func(i int) error { return c.Run(ctx, e, ig, 100+i) })
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %d runs, profile %s\n", c.Name, runs, path)
	}
	return nil
}

// whileProfiling runs run (i = 0, 1, …) until a CPU profile of s over
// seconds, fetched meanwhile, is written to path, and returns the runs.
func whileProfiling(s *Server, path string, seconds int, run func(i int) error) (int, error) {
	done := make(chan error, 1)
	go func() { done <- fetchProfile(s, path, seconds) }()
	for i := 0; ; i++ {
		if err := run(i); err != nil {
			return i, err
		}
		select {
		case err := <-done:
			return i + 1, err
		default:
		}
	}
}

func fetchProfile(s *Server, path string, seconds int) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.Debug, seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s (is IMAGEGATE_DEBUG_PPROF=true?)", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
