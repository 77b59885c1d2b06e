package gate

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/registry"
	"github.com/imagegate/imagegate/registry/registrytest"
	"github.com/imagegate/imagegate/scan/scantest"
)

// server runs imagegate with the test's Trivy scanner and the given scan
// policies; it returns the host:port and a way to read records.
func server(t *testing.T, policies ...config.ScanPolicy) (string, func(repo string) []*metadata.Record) {
	t.Helper()
	return serverWith(t, func(*config.Config) {}, policies...)
}

// serverWithTimeout is server with a bound on each scan.
func serverWithTimeout(t *testing.T, timeout time.Duration, policies ...config.ScanPolicy) (string, func(repo string) []*metadata.Record) {
	t.Helper()
	return serverWith(t, func(cfg *config.Config) { cfg.Scan.Timeout = timeout }, policies...)
}

// serverWith is server with mutate applied to the configuration.
func serverWith(t testing.TB, mutate func(*config.Config), policies ...config.ScanPolicy) (string, func(repo string) []*metadata.Record) {
	t.Helper()
	srv, _ := registrytest.Start(t, func(cfg *config.Config) {
		cfg.Scan.Policies, cfg.Scan.Timeout = policies, time.Minute
		mutate(cfg)
	}, registry.WithScanner(scanner))
	host := srv.Addr().String()
	return host, func(repo string) []*metadata.Record {
		page, err := srv.Records().List(context.Background(), metadata.Query{Repository: repo, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return page.Records
	}
}

func policy(mode, severity string, mut ...func(*config.ScanPolicy)) config.ScanPolicy {
	p := config.ScanPolicy{Repositories: "**", Mode: mode, Severity: severity, OnError: "reject"}
	for _, m := range mut {
		m(&p)
	}
	return p
}

func push(t testing.TB, host, repoTag string, img v1.Image) error {
	ref, err := name.ParseReference(host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return remote.Write(ref, img)
}

func tagExists(t *testing.T, host, repoTag string) bool {
	ref, _ := name.ParseReference(host+"/"+repoTag, name.Insecure)
	_, err := remote.Head(ref)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func findingIDs(r *metadata.Record) []string {
	var ids []string
	for _, f := range r.Scan.Findings {
		ids = append(ids, f.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestEnforceBlocks: a push with findings at or above the threshold gets
// 403 DENIED naming the count, threshold and policy; nothing is tagged; the
// record is rejected with the findings.
func TestEnforceBlocks(t *testing.T) {
	host, records := server(t, policy("enforce", "HIGH", func(p *config.ScanPolicy) { p.Repositories = "prod/**" }))
	err := push(t, host, "prod/api:1.0", scantest.VulnerableImage(t))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden || len(terr.Errors) == 0 ||
		terr.Errors[0].Code != transport.DeniedErrorCode {
		t.Fatalf("push: %v, want 403 DENIED", err)
	}
	msg := terr.Errors[0].Message
	if !strings.HasPrefix(msg, `image has 3 vulnerabilities at or above HIGH (policy "prod/**"): `+scantest.CVECritical+" (CRITICAL musl") {
		t.Fatalf("message %q", msg)
	}
	if !strings.Contains(err.Error(), scantest.CVECritical) {
		t.Errorf("the refusal detail does not name the worst finding: %v", err)
	}
	if tagExists(t, host, "prod/api:1.0") {
		t.Fatal("a blocked image was tagged")
	}
	rs := records("prod/api")
	if len(rs) != 1 || rs[0].Status != metadata.StatusRejected || rs[0].Reason != msg || rs[0].Scan == nil {
		t.Fatalf("record %+v", rs)
	}
	if rs[0].Scan.Counts["CRITICAL"] != 1 || rs[0].Scan.Counts["HIGH"] != 2 || len(rs[0].Scan.Findings) != 5 ||
		rs[0].Scan.Verdict != "enforce:block" || rs[0].Scan.DBVersion == "" {
		t.Fatalf("scan summary %+v", rs[0].Scan)
	}
	// A clean image passes the same policy.
	if err := push(t, host, "prod/api:1.1", scantest.CleanImage(t)); err != nil {
		t.Fatalf("clean image: %v", err)
	}
}

func TestAuditRecordsAndAccepts(t *testing.T) {
	host, records := server(t, policy("audit", "HIGH"))
	if err := push(t, host, "dev/api:1", scantest.VulnerableImage(t)); err != nil {
		t.Fatalf("audit push: %v", err)
	}
	rs := records("dev/api")
	if len(rs) != 1 || rs[0].Status != metadata.StatusAccepted || rs[0].Scan == nil || rs[0].Scan.Verdict != "audit:would-refuse" {
		t.Fatalf("record %+v", rs[0])
	}
	want := []string{scantest.CVECritical, scantest.CVEHigh, scantest.CVEMedium, scantest.CVEHighUnfixed, scantest.CVELow}
	slices.Sort(want)
	if got := findingIDs(rs[0]); !slices.Equal(got, want) {
		t.Fatalf("findings %v, want %v", got, want)
	}
}

func TestAllowlist(t *testing.T) {
	future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	allow := func(expires string) func(*config.ScanPolicy) {
		return func(p *config.ScanPolicy) {
			p.Allowlist = []config.ScanException{{ID: scantest.CVECritical, Reason: "fixture: not reachable", Expires: expires}}
		}
	}
	host, _ := server(t, policy("enforce", "CRITICAL", allow(future), func(p *config.ScanPolicy) { p.Repositories = "ok/**" }),
		policy("enforce", "CRITICAL", allow(past)))
	if err := push(t, host, "ok/app:1", scantest.VulnerableImage(t)); err != nil {
		t.Fatalf("allowlisted CVE blocked the push: %v", err)
	}
	err := push(t, host, "expired/app:1", scantest.VulnerableImage(t))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden {
		t.Fatalf("an expired exception let the CVE through: %v", err)
	}
}

func TestIgnoreUnfixed(t *testing.T) {
	host, records := server(t, policy("enforce", "HIGH", func(p *config.ScanPolicy) { p.IgnoreUnfixed = true }))
	err := push(t, host, "x/app:1", scantest.VulnerableImage(t))
	var terr *transport.Error
	if !errors.As(err, &terr) || !strings.Contains(terr.Errors[0].Message, "2 vulnerabilities at or above HIGH") ||
		!strings.Contains(terr.Errors[0].Message, "not counted at or above HIGH: 1 without a fix (ignoreunfixed: "+scantest.CVEHighUnfixed+")") {
		t.Fatalf("ignore-unfixed still counts the unfixed HIGH: %v", err)
	}
	if r := records("x/app")[0]; r.Status != metadata.StatusRejected {
		t.Fatalf("record %+v", r)
	}
}

// TestScannerTimeout: a scan that cannot finish in time rejects the push
// under onerror=reject (429, retry later) and lets it through under accept.
func TestScannerTimeout(t *testing.T) {
	for _, onerror := range []string{"reject", "accept"} {
		t.Run(onerror, func(t *testing.T) {
			cfgHost, records := serverWithTimeout(t, time.Nanosecond, policy("enforce", "CRITICAL", func(p *config.ScanPolicy) { p.OnError = onerror }))
			err := push(t, cfgHost, "slow/app:1", scantest.CleanImage(t))
			rs := records("slow/app") // the client retries a 429; one record all the same
			if len(rs) != 1 || rs[0].Scan == nil || rs[0].Scan.Error == "" {
				t.Fatalf("records %+v", rs)
			}
			if onerror == "accept" {
				if err != nil || rs[0].Status != metadata.StatusAccepted || rs[0].Scan.Verdict != "scan-failed-accepted" {
					t.Fatalf("accept: %v %+v", err, rs[0])
				}
				return
			}
			var terr *transport.Error
			if !errors.As(err, &terr) || terr.StatusCode != http.StatusTooManyRequests ||
				!strings.Contains(terr.Errors[0].Message, "did not finish within") {
				t.Fatalf("reject: %v", err)
			}
			if rs[0].Status != metadata.StatusRejected || tagExists(t, cfgHost, "slow/app:1") {
				t.Fatalf("reject: record %+v", rs[0])
			}
		})
	}
}

// TestMultiArchWithVulnerableChild: pushing an index whose arm64 image is
// vulnerable fails at that child; the index is never tagged, the clean
// child (pushed first) passed and the vulnerable one is recorded rejected.
func TestMultiArchWithVulnerableChild(t *testing.T) {
	host, records := server(t, policy("enforce", "HIGH"))
	clean, vuln := scantest.CleanImage(t), scantest.VulnerableImage(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: clean, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: vuln, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	if err := push(t, host, "multi/app:amd64", clean); err != nil {
		t.Fatalf("clean child: %v", err)
	}
	ref, _ := name.ParseReference(host+"/multi/app:1", name.Insecure)
	err := remote.WriteIndex(ref, idx)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden {
		t.Fatalf("index push: %v, want 403", err)
	}
	if tagExists(t, host, "multi/app:1") {
		t.Fatal("the index was tagged")
	}
	cd, _ := clean.Digest()
	vd, _ := vuln.Digest()
	status := map[string]metadata.Status{}
	for _, r := range records("multi/app") {
		status[r.Digest.String()] = r.Status
	}
	if status[cd.String()] != metadata.StatusAccepted || status[vd.String()] != metadata.StatusRejected {
		t.Fatalf("children: %v", status)
	}
}

// TestSecondPushReadsNoLayer: the layer cache means pushing the same
// layers again (here to another repository) opens no layer blob.
func TestSecondPushReadsNoLayer(t *testing.T) {
	host, records := server(t, policy("audit", "HIGH"))
	base := scantest.CleanImage(t)
	derived := scantest.WithLayer(t, base, map[string]string{"app/hello.txt": "hello"})
	if err := push(t, host, "cache/base:1", base); err != nil {
		t.Fatal(err)
	}
	before := scanner.opens.Load()
	if err := push(t, host, "cache/other:1", base); err != nil {
		t.Fatal(err)
	}
	if n := scanner.opens.Load() - before; n != 0 {
		t.Fatalf("re-scanning known layers opened %d blobs", n)
	}
	before = scanner.opens.Load()
	if err := push(t, host, "cache/derived:1", derived); err != nil {
		t.Fatal(err)
	}
	if n := scanner.opens.Load() - before; n != 1 {
		t.Fatalf("an image adding one layer to a scanned base opened %d blobs, want 1", n)
	}
	if r := records("cache/other")[0]; r.Scan == nil || r.Scan.Error != "" {
		t.Fatalf("cached scan result missing: %+v", r.Scan)
	}
}
