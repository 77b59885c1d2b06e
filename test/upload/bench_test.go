package upload

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/imagegate/imagegate/internal/benchdata"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// BenchmarkUpload measures uploads of generated docker save tarballs of
// IMAGEGATE_BENCH_GIB GiB (default 1; plain layers of text-like content that
// compresses about 3:1) — plain and as a .tar.gz — in MB/s of archive and
// peak RSS of the process (server and client; the client streams from a
// file), against `skopeo copy docker-archive:… docker://…` to the same
// server when SKOPEO_BIN is set. Run with -benchtime=1x:
//
//	go test ./test/upload -run '^$' -bench Upload -benchtime 1x
func BenchmarkUpload(b *testing.B) {
	mib := 1024
	if v := os.Getenv("IMAGEGATE_BENCH_GIB"); v != "" {
		gib, _ := strconv.Atoi(v)
		mib = gib << 10
	}
	if v := os.Getenv("IMAGEGATE_BENCH_MIB"); v != "" {
		mib, _ = strconv.Atoi(v)
	}
	size := fmt.Sprintf("%dMiB", mib)
	if mib%1024 == 0 {
		size = fmt.Sprintf("%dGiB", mib>>10)
	}
	dir := b.TempDir()
	plain := filepath.Join(dir, "image.tar")
	if err := benchdata.WriteDockerSave(plain, int64(mib)<<20, false); err != nil {
		b.Fatal(err)
	}
	gzipped := filepath.Join(dir, "image.tar.gz")
	if err := gzipFile(plain, gzipped); err != nil {
		b.Fatal(err)
	}
	s := start(b, nil)
	runtime.GC()
	debug.FreeOSMemory()
	b.Logf("RSS of the test process with the server started, before any upload: %.1f MiB", float64(currentRSS(b))/(1<<20))
	for _, archive := range []struct{ name, path string }{
		{"docker-save-" + size, plain},
		{"docker-save-" + size + ".tar.gz", gzipped},
	} {
		fi, err := os.Stat(archive.path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(archive.name+"/imagegate", func(b *testing.B) {
			b.SetBytes(fi.Size())
			for i := range b.N {
				resetPeakRSS(b)
				f, err := os.Open(archive.path)
				if err != nil {
					b.Fatal(err)
				}
				start, cpu0 := time.Now(), cpuTime(b)
				r := s.upload(b, "/upload-image", fmt.Sprintf("repository=bench/imagegate&tag=%s-%d", strings.ReplaceAll(archive.name, ".", "-"), i),
					bufio.NewReaderSize(f, 1<<20), http.Header{"Content-Length": {strconv.FormatInt(fi.Size(), 10)}})
				elapsed := time.Since(start)
				f.Close()
				if r.Status != http.StatusCreated {
					b.Fatalf("upload: %d %s", r.Status, r.Body)
				}
				b.ReportMetric(float64(fi.Size())/1e6/elapsed.Seconds(), "archive-MB/s")
				b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-RSS-MiB")
				b.ReportMetric((cpuTime(b) - cpu0).Seconds(), "CPU-s")
			}
		})
		b.Run(archive.name+"/skopeo", func(b *testing.B) {
			bin := liveserver.RequireBinary(b, envSkopeoBin)
			if strings.HasSuffix(archive.path, ".gz") {
				b.Skip("skopeo cannot read a compressed docker-archive (it reports an invalid tar header): compare with the plain one")
			}
			b.SetBytes(fi.Size())
			for i := range b.N {
				resetPeakRSS(b)
				start, cpu0 := time.Now(), cpuTime(b)
				cmd := exec.CommandContext(context.Background(), bin, "copy", "--quiet", "--dest-tls-verify=false",
					"docker-archive:"+archive.path, fmt.Sprintf("docker://%s/bench/skopeo:%s-%d", s.host, strings.ReplaceAll(archive.name, ".", "-"), i))
				out, err := cmd.CombinedOutput()
				elapsed := time.Since(start)
				if err != nil {
					b.Fatalf("skopeo: %v\n%s", err, out)
				}
				b.ReportMetric(float64(fi.Size())/1e6/elapsed.Seconds(), "archive-MB/s")
				b.ReportMetric(float64(peakRSS(b))/(1<<20), "server-peak-RSS-MiB")
				server := cpuTime(b) - cpu0
				if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
					b.ReportMetric(float64(ru.Maxrss)/1024, "skopeo-peak-RSS-MiB")
				}
				// CPU time is what a loaded machine cannot distort: the
				// server's and skopeo's together.
				b.ReportMetric((server + cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds(), "CPU-s")
			}
		})
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets this process's high-water mark of resident memory.
func resetPeakRSS(b testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS (%v): it covers the whole run", err)
	}
}

// currentRSS is this process's resident memory, in bytes.
func currentRSS(b testing.TB) int64 { return procStatus(b, "VmRSS:") }

// peakRSS is this process's high-water mark of resident memory, in bytes.
func peakRSS(b testing.TB) int64 { return procStatus(b, "VmHWM:") }

// procStatus reads a kB field of /proc/self/status, in bytes.
func procStatus(b testing.TB, field string) int64 {
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

// gzipFile compresses src into dst (fast level, as CI pipelines do).
func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	zw, err := gzip.NewWriterLevel(out, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if _, err := io.Copy(zw, in); err != nil {
		return err
	}
	return zw.Close()
}
