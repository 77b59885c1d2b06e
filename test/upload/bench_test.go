package upload

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
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
	if err := writeBenchTarball(plain, int64(mib)<<20, false); err != nil {
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

// Shape of the generated image: layers of files of text-like content.
const (
	benchFileSize  = 2 << 20
	benchFiles     = 64 // per layer: 128 MiB layers
	benchLayerSize = benchFiles*(512+benchFileSize) + 1024
)

// writeBenchTarball writes a docker save tarball (legacy layout, plain
// layers) of about size bytes to path, streaming: files of text-like
// content (about 3:1), or of random bytes (incompressible) when random.
func writeBenchTarball(path string, size int64, random bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	text := benchText(8 << 20)
	rnd := rand.NewChaCha8([32]byte{'i', 'g'})
	noise := make([]byte, benchFileSize)
	layers := int(max(size/benchLayerSize, 1))
	var diffIDs, paths []string
	for l := range layers {
		h := sha256.New()
		name := fmt.Sprintf("layer%03d/layer.tar", l)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: benchLayerSize, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
		inner := tar.NewWriter(io.MultiWriter(tw, h))
		for i := range benchFiles {
			if err := inner.WriteHeader(&tar.Header{Name: fmt.Sprintf("d/f%03d", i), Mode: 0o644, Size: benchFileSize,
				Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
				return err
			}
			off := ((l*benchFiles + i) * 7919 * 4099) % (len(text) - benchFileSize)
			content := text[off : off+benchFileSize]
			if random {
				_, _ = rnd.Read(noise)
				content = noise
			}
			if _, err := inner.Write(content); err != nil {
				return err
			}
		}
		if err := inner.Close(); err != nil {
			return err
		}
		diffIDs = append(diffIDs, "sha256:"+hex.EncodeToString(h.Sum(nil)))
		paths = append(paths, name)
	}
	config, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}, "config": map[string]any{}})
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(config))
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"bench/app:1"}, "Layers": paths}})
	for _, e := range []struct {
		name string
		data []byte
	}{{cfgName, config}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// benchText is n bytes of words: compresses about 3:1 like file system trees.
func benchText(n int) []byte {
	words := strings.Fields("the of and to in is it that for on with as was by at be this from or an are not have but were " +
		"all which one can there has more their if will would so its into what some them other than then these two may " +
		"func return err nil string int byte struct package import const var type interface map chan select defer go")
	out := make([]byte, 0, n+16)
	x := uint64(2463534242)
	for len(out) < n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out = append(out, words[x%uint64(len(words))]...)
		if x%11 == 0 {
			out = append(out, '\n')
		} else {
			out = append(out, ' ')
		}
		if x%97 == 0 {
			out = strconv.AppendUint(out, x%100000, 10)
		}
	}
	return out[:n]
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
