package s3bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagegate/imagegate/internal/procstat"
)

// resetHWM resets the peak RSS (VmHWM) of pid to its current RSS.
func resetHWM(b *testing.B, pid int) {
	if err := procstat.ResetPeakRSS(pid); err != nil {
		b.Fatal(err)
	}
}

// statusKB returns the field (VmHWM, RssAnon…) of /proc/PID/status in bytes.
func statusKB(b *testing.B, pid int, field string) int64 {
	n, err := procstat.Status(pid, field)
	if err != nil {
		b.Fatal(err)
	}
	return n
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
singlenode: true
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
