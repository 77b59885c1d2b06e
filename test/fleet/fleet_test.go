package fleet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/internal/testutil/s3test"
	"github.com/imagegate/imagegate/scan/trivy/trivytest"
)

// Environment read by the harness.
const (
	envImagegateBin = "IMAGEGATE_BIN"                    // the imagegate binary under test
	envDynamoDB     = "IMAGEGATE_TEST_DYNAMODB_ENDPOINT" // DynamoDB Local (scripts/netns-tests.sh starts it)
)

// replicaCount is how many `imagegate serve` processes a fleet runs, and
// scannerCount how many `imagegate scanner` processes scan for them.
const (
	replicaCount = 3
	scannerCount = 2
)

// users are the htpasswd accounts of every fleet: root is admin everywhere,
// alice a developer (pull, push) on team/**, locky a developer there too
// (the lockout test guesses her password), conformance the suite's admin.
var users = map[string]string{
	"root":        "root-Secret-0",
	"alice":       "alice-Secret-1",
	"locky":       "locky-Secret-2",
	"conformance": "conformance-Secret-3",
}

// lockoutFailures is auth.lockout.maxfailures of every replica.
const lockoutFailures = 3

// options shape one fleet.
type options struct {
	// env is added to every replica's environment (e.g. conformance.ServerEnv).
	env []string
	// dynamoDB returns the DynamoDB endpoint replica i (0-based) talks to;
	// nil: the real one. The kill test puts a trigger proxy in between.
	dynamoDB func(i int, real string) string
	// extraYAML returns top-level configuration sections for replica i
	// that the base configuration does not set (notifications:).
	extraYAML func(i int) string
}

// fleet is replicaCount imagegate replicas behind one HAProxy, sharing
// one bucket, one table, one signing key and one http.secret, and
// scanning in a pool of scannerCount scanners on the same bucket and
// table.
type fleet struct {
	replicas []*liveserver.Server
	scanners []*scanner
	lb       *loadBalancer
	bucket   string
	table    string
}

// awsEnv is the environment of every replica and scanner: SeaweedFS's and
// DynamoDB Local's credentials.
var awsEnv = []string{"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_REGION=us-east-1"}

// startFleet starts a fleet with opts: first the scanner pool (each
// scanner on its own port and Trivy cache, the same fixture DB in each,
// the real DynamoDB), each healthy before the next starts; then the
// replicas, each on its own ports and data directory, naming both
// scanners; then HAProxy in front. Everything stops when the test ends.
func startFleet(t testing.TB, opts options) *fleet {
	t.Helper()
	bin := liveserver.RequireBinary(t, envImagegateBin)
	ddb := liveserver.RequireEnv(t, envDynamoDB, "DynamoDB Local (scripts/netns-tests.sh starts it)")
	s3Client, bucket, s3Endpoint := s3test.Bucket(t, "fleet-")
	waitWritable(t, s3Client, bucket)
	f := &fleet{bucket: bucket, table: "fleet-" + randomHex(t, 4)}
	shared := sharedFiles(t)
	// The first scanner creates the table the others then find.
	for range scannerCount {
		addr := freeAddr(t)
		yaml := baseYAML(shared, f, s3Endpoint, ddb) + scannerScanYAML(t, addr, shared.poolSecret)
		f.scanners = append(f.scanners, startScanner(t, bin, addr, yaml, awsEnv))
	}
	for i := range replicaCount {
		endpoint := ddb
		if opts.dynamoDB != nil {
			endpoint = opts.dynamoDB(i, ddb)
		}
		yaml := baseYAML(shared, f, s3Endpoint, endpoint) + f.replicaScanYAML(i, shared.poolSecret)
		if opts.extraYAML != nil {
			yaml += opts.extraYAML(i)
		}
		env := append(slices.Clone(awsEnv), opts.env...)
		f.replicas = append(f.replicas, liveserver.StartWithConfig(t, bin, yaml, env...))
	}
	f.lb = startLoadBalancer(t, f.replicas)
	return f
}

// shared are the files and secrets every process of a fleet reads: the
// users, the token signing key, the upload-state secret and the scanner
// pool's secret.
type shared struct {
	htpasswd, signingKey, httpSecret, poolSecret string
}

// sharedFiles writes a fresh htpasswd file and EC P-256 signing key, and
// picks a random http.secret and scan.pool.secret. The key is made here,
// not by the first replica: replicas on S3 must not generate their own.
func sharedFiles(t testing.TB) shared {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "signing-key.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return shared{htpasswd: liveserver.WriteHtpasswd(t, users), signingKey: keyPath, httpSecret: randomHex(t, 32),
		poolSecret: randomHex(t, 32)}
}

// baseYAML is the configuration replicas and scanners share (the
// registry's file, as docs/scanning.md runs a scanner with): S3 +
// DynamoDB, auth on with the shared files, access logs on. The scan:
// section follows: replicaScanYAML or scannerScanYAML.
func baseYAML(s shared, f *fleet, s3Endpoint, ddbEndpoint string) string {
	return fmt.Sprintf(`http:
  secret: %q
log:
  accesslog: true
storage:
  driver: s3
  s3:
    bucket: %q
    region: us-east-1
    regionendpoint: %q
    forcepathstyle: true
    rootdirectory: /registry
    accesskey: %s
    secretkey: %s
metadata:
  driver: dynamodb
  dynamodb:
    table: %q
    region: us-east-1
    endpoint: %q
    createtable: true
  sweep:
    grace: 2m
    interval: 5s
auth:
  enabled: true
  htpasswd: %q
  signingkey: %q
  trustedproxies: ["127.0.0.1"]
  lockout:
    maxfailures: %d
  bindings:
    - subjects: [root, conformance]
      role: admin
      repositories: ["**"]
    - subjects: [alice, locky]
      role: developer
      repositories: ["team/**"]
`, s.httpSecret, f.bucket, s3Endpoint, s3test.AccessKey, s3test.SecretKey, f.table, ddbEndpoint,
		s.htpasswd, s.signingKey, lockoutFailures)
}

// vulnRepos are the repositories whose scans are enforced: an image with a
// HIGH or CRITICAL finding is refused there. Elsewhere scans only audit.
const vulnRepos = "vuln/**"

// Scanner pool bounds of the tests: the queue and its wait are generous
// because three fleets share two loaded cores (a refused scan would turn
// an enforced push into a 503, an audited one into an unscanned accept).
const (
	scanPoolQueue     = 16
	scanPoolQueueWait = 2 * time.Minute
)

// replicaScanYAML is replica i's scan: section: no Trivy DB of its own;
// every scan goes to the pool, the scanners' URLs rotated by i so that
// the replicas' round robins start on different scanners. The policies
// enforce in vulnRepos and audit elsewhere.
func (f *fleet) replicaScanYAML(i int, secret string) string {
	urls := make([]string, len(f.scanners))
	for k := range f.scanners {
		urls[k] = fmt.Sprintf("%q", f.scanners[(i+k)%len(f.scanners)].URL)
	}
	return fmt.Sprintf(`scan:
  pool:
    urls: [%s]
    secret: %q
  policies:
    - repositories: %q
      mode: enforce
      severity: HIGH
      onerror: reject
    - repositories: "**"
      mode: audit
      severity: HIGH
      onerror: accept
`, strings.Join(urls, ", "), secret, vulnRepos)
}

// scannerScanYAML is a scanner's scan: section: Trivy offline on a copy
// of the fixture DB (the same version in every scanner), listening on
// addr.
func scannerScanYAML(t testing.TB, addr, secret string) string {
	t.Helper()
	cache := filepath.Join(t.TempDir(), "trivy")
	trivytest.WriteFixtureDB(t, cache)
	return fmt.Sprintf(`scan:
  cachedir: %q
  skipupdate: true
  pool:
    addr: %q
    secret: %q
    queue: %d
    queuewait: %s
`, cache, addr, secret, scanPoolQueue, scanPoolQueueWait)
}

// waitWritable waits (bounded) until a new SeaweedFS bucket takes a write:
// it grows the bucket's volumes in the background, answering 500 "volume
// not found" until then.
func waitWritable(t testing.TB, client *s3.Client, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("probe"),
			Body: strings.NewReader("probe")})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("bucket %s takes no write: %v", bucket, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("probe")}); err != nil {
		t.Fatalf("delete probe object in %s: %v", bucket, err)
	}
}

// randomHex returns n random bytes in hex.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// addrs are the replicas' host:port, in order.
func (f *fleet) addrs() []string {
	out := make([]string, 0, len(f.replicas))
	for _, r := range f.replicas {
		out = append(out, r.Addr)
	}
	return out
}

// replicaIndex returns the index of the replica listening on addr, or -1.
func (f *fleet) replicaIndex(addr string) int {
	for i, r := range f.replicas {
		if strings.HasSuffix(addr, r.Addr) {
			return i
		}
	}
	return -1
}
