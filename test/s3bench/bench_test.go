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
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
				anon := sampleAnon(r.cmd.Process.Pid)
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

// data is a deterministic stream of size bytes (a random 4 MiB block
// repeated) and its digest.
type data struct {
	block  []byte
	size   int64
	digest string
}

func newData(size int64) *data {
	d := &data{block: make([]byte, 4<<20), size: size}
	_, _ = rand.Read(d.block)
	h := sha256.New()
	_, _ = io.Copy(h, d.reader(0, size))
	d.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return d
}

// reader returns bytes [off, off+n) of the stream.
func (d *data) reader(off, n int64) io.Reader {
	return &blockReader{block: d.block, off: off, left: n}
}

type blockReader struct {
	block     []byte
	off, left int64
}

func (r *blockReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	i := r.off % int64(len(r.block))
	n := copy(p[:min(int64(len(p)), r.left)], r.block[i:])
	r.off += int64(n)
	r.left -= int64(n)
	return n, nil
}

var client = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}

// startUpload POSTs a new upload and returns its absolute location.
func startUpload(base, repo string) (string, error) {
	resp, err := client.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("POST upload: %s: %s", resp.Status, body(resp))
	}
	return absolute(base, resp.Header.Get("Location")), nil
}

func pushMonolithic(base, repo string, d *data) error {
	loc, err := startUpload(base, repo)
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPut, withDigest(loc, d.digest), d.reader(0, d.size))
	req.ContentLength = d.size
	req.Header.Set("Content-Type", "application/octet-stream")
	return expect(req, http.StatusCreated)
}

func pushChunked(base, repo string, d *data, chunk int64) error {
	loc, err := startUpload(base, repo)
	if err != nil {
		return err
	}
	for off := int64(0); off < d.size; off += chunk {
		n := min(chunk, d.size-off)
		req, _ := http.NewRequest(http.MethodPatch, loc, d.reader(off, n))
		req.ContentLength = n
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+n-1))
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("PATCH at %d: %w", off, err)
		}
		if resp.StatusCode != http.StatusAccepted {
			defer drain(resp)
			return fmt.Errorf("PATCH at %d: %s: %s", off, resp.Status, body(resp))
		}
		loc = absolute(base, resp.Header.Get("Location"))
		drain(resp)
	}
	req, _ := http.NewRequest(http.MethodPut, withDigest(loc, d.digest), nil)
	return expect(req, http.StatusCreated)
}

func pull(base, repo string, d *data) error {
	resp, err := client.Get(base + "/v2/" + repo + "/blobs/" + d.digest)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET blob: %s: %s", resp.Status, body(resp))
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if n != d.size {
		return fmt.Errorf("GET blob: %d bytes, want %d", n, d.size)
	}
	return nil
}

func expect(req *http.Request, status int) error {
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", req.Method, err)
	}
	defer drain(resp)
	if resp.StatusCode != status {
		return fmt.Errorf("%s: %s: %s", req.Method, resp.Status, body(resp))
	}
	return nil
}

func withDigest(loc, digest string) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + "digest=" + digest
}

func absolute(base, loc string) string {
	if strings.HasPrefix(loc, "/") {
		return base + loc
	}
	return loc
}

func body(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return string(b)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}

// resetHWM resets the peak RSS (VmHWM) of pid to its current RSS.
func resetHWM(b *testing.B, pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		b.Fatalf("reset VmHWM of %d: %v", pid, err)
	}
}

// statusKB returns the field (VmHWM, RssAnon…) of /proc/PID/status in bytes.
func statusKB(b *testing.B, pid int, field string) int64 {
	n, err := readStatus(pid, field)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func readStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// sampleAnon samples RssAnon of pid every 20 ms (the kernel keeps no peak
// of it: VmHWM includes the file-backed pages of the binary) until the
// returned function is called, which returns the peak.
func sampleAnon(pid int) func() int64 {
	stop, done := make(chan struct{}), make(chan int64)
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if n, err := readStatus(pid, "RssAnon"); err == nil {
				peak = max(peak, n)
			}
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(stop); return <-done }
}

func startImagegate(b *testing.B, bin, dir, endpoint, bucket string) *registryProc {
	addr := freeAddr(b)
	cfg := fmt.Sprintf(`http:
  addr: %s
debug:
  addr: ""
log:
  level: warn
  accesslog: false
storage:
  driver: s3
  s3:
    bucket: %s
    region: us-east-1
    regionendpoint: %s
    forcepathstyle: true
    encrypt: true
    chunksize: %d
    accesskey: %s
    secretkey: %s
scan:
  policies: []
`, addr, bucket, endpoint, partSize, accessKey, secretKey)
	return startProc(b, "imagegate", dir, addr, cfg, bin, "serve", "--config", "config.yaml")
}

func startDistribution(b *testing.B, bin, dir, endpoint, bucket string) *registryProc {
	addr := freeAddr(b)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  s3:
    bucket: %s
    region: us-east-1
    regionendpoint: %s
    forcepathstyle: true
    encrypt: true
    secure: false
    v4auth: true
    chunksize: %d
    accesskey: %s
    secretkey: %s
  redirect:
    disable: true
  delete:
    enabled: true
http:
  addr: %s
`, bucket, endpoint, partSize, accessKey, secretKey, addr)
	return startProc(b, "distribution", dir, addr, cfg, bin, "serve", "config.yaml")
}

// startProc writes cfg to dir/config.yaml, starts bin in dir and waits
// (bounded) until /v2/ answers.
func startProc(b *testing.B, name, dir, addr, cfg, bin string, args ...string) *registryProc {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logf, logf
	// IMAGEGATE_* variables would be read as configuration keys.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IMAGEGATE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_EC2_METADATA_DISABLED=true")
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", name, err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = logf.Close()
	})
	url := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(url + "/v2/")
		if err == nil {
			drain(resp)
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			b.Fatalf("%s did not answer /v2/ within 60s (%v); log:\n%s", name, err, tail(log))
		}
		<-tick.C
	}
	return &registryProc{name: name, url: url, cmd: cmd}
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// newBucket creates a bucket named prefix-RANDOM, emptied and deleted at
// the end.
func newBucket(b *testing.B, endpoint, prefix string) string {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := prefix + "-" + hex.EncodeToString(suffix)
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")})
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		b.Fatalf("create bucket %s: %v", name, err)
	}
	b.Cleanup(func() { emptyBucket(c, name) })
	return name
}

func emptyBucket(c *s3.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	uploads, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err == nil {
		for _, u := range uploads.Uploads {
			_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
		}
	}
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		}
	}
	_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
}

func run(b *testing.B, dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOEXPERIMENT=jsonv2")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func repoRoot(b *testing.B) string {
	dir, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		b.Fatalf("repository root not found from %s", dir)
	}
	return dir
}

// sizeEnv reads a size in bytes, or with a KiB/MiB/GiB suffix.
func sizeEnv(b *testing.B, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	for _, u := range []struct {
		s string
		m int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"", 1}} {
		if n, ok := strings.CutSuffix(v, u.s); ok {
			x, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				b.Fatalf("%s=%q: %v", name, v, err)
			}
			return x * u.m
		}
	}
	return def
}
