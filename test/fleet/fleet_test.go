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

// replicaCount is how many `imagegate serve` processes a fleet runs.
const replicaCount = 3

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
// one bucket, one table, one signing key and one http.secret.
type fleet struct {
	replicas []*liveserver.Server
	lb       *loadBalancer
	bucket   string
	table    string
}

// startFleet starts a fleet with opts, each replica on its own ports, data
// directory and Trivy cache (the same fixture DB in each), then HAProxy in
// front. Everything stops when the test ends.
func startFleet(t testing.TB, opts options) *fleet {
	t.Helper()
	bin := liveserver.RequireBinary(t, envImagegateBin)
	ddb := liveserver.RequireEnv(t, envDynamoDB, "DynamoDB Local (scripts/netns-tests.sh starts it)")
	s3Client, bucket, s3Endpoint := s3test.Bucket(t, "fleet-")
	waitWritable(t, s3Client, bucket)
	f := &fleet{bucket: bucket, table: "fleet-" + randomHex(t, 4)}
	shared := sharedFiles(t)
	// One replica first: it creates the table the others then find.
	for i := range replicaCount {
		endpoint := ddb
		if opts.dynamoDB != nil {
			endpoint = opts.dynamoDB(i, ddb)
		}
		yaml := replicaYAML(t, shared, f, s3Endpoint, endpoint)
		if opts.extraYAML != nil {
			yaml += opts.extraYAML(i)
		}
		env := append([]string{"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_REGION=us-east-1"}, opts.env...)
		f.replicas = append(f.replicas, liveserver.StartWithConfig(t, bin, yaml, env...))
	}
	f.lb = startLoadBalancer(t, f.replicas)
	return f
}

// shared are the files every replica of a fleet reads: the users, the
// token signing key and the upload-state secret.
type shared struct {
	htpasswd, signingKey, httpSecret string
}

// sharedFiles writes a fresh htpasswd file and EC P-256 signing key, and
// picks a random http.secret. The key is made here, not by the first
// replica: replicas on S3 must not generate their own.
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
	return shared{htpasswd: liveserver.WriteHtpasswd(t, users), signingKey: keyPath, httpSecret: randomHex(t, 32)}
}

// replicaYAML is one replica's configuration: S3 + DynamoDB, auth on with
// the shared files, access logs on, and the scanner.
func replicaYAML(t testing.TB, s shared, f *fleet, s3Endpoint, ddbEndpoint string) string {
	t.Helper()
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
%s`, s.httpSecret, f.bucket, s3Endpoint, s3test.AccessKey, s3test.SecretKey, f.table, ddbEndpoint,
		s.htpasswd, s.signingKey, lockoutFailures, scanYAML(t))
}

// vulnRepos are the repositories whose scans are enforced: an image with a
// HIGH or CRITICAL finding is refused there. Elsewhere scans only audit.
const vulnRepos = "vuln/**"

// scanYAML is a replica's scan: section. Today every replica scans in
// process, offline, with Trivy on a copy of the fixture DB (the same
// version everywhere, as test/gate does). A scanner pool (`imagegate
// scanner` processes, scan.pool) replaces this section when it lands; the
// policies stay.
func scanYAML(t testing.TB) string {
	t.Helper()
	cache := filepath.Join(t.TempDir(), "trivy")
	trivytest.WriteFixtureDB(t, cache)
	return fmt.Sprintf(`scan:
  cachedir: %q
  skipupdate: true
  policies:
    - repositories: %q
      mode: enforce
      severity: HIGH
      onerror: reject
    - repositories: "**"
      mode: audit
      severity: HIGH
      onerror: accept
`, cache, vulnRepos)
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
