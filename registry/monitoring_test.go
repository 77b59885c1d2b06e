package registry

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/scantest"
)

// exportedNames returns every metric family name a server with every
// optional part (auth, notifications, a scanner, TLS) may export: the
// descriptors of its registry (a scanner with a queue, as Trivy has) and of the process-wide one (distribution's
// storage metrics, Go runtime), histograms with their _bucket, _sum and
// _count series.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	certFile, keyFile, _ := selfSignedCert(t)
	htpasswd := writeHtpasswd(t, testUsers)
	s := startServer(t, func(c *config.Config) {
		enforceAll(c)
		c.HTTP.TLS.Certificate, c.HTTP.TLS.Key = certFile, keyFile
		c.Auth.Enabled, c.Auth.Htpasswd = true, htpasswd
		c.Auth.SigningKey = filepath.Join(t.TempDir(), "signing.pem")
		c.Notifications.Outbox = filepath.Join(t.TempDir(), "notify.db")
		c.Notifications.Endpoints = []config.NotificationEndpoint{{Name: "ci", URL: "http://127.0.0.1:9/hook", Secret: hookSecret}}
	}, WithScanner(queueFake{&scantest.Fake{}}))
	names := map[string]bool{}
	ch := make(chan *prometheus.Desc)
	done := make(chan struct{})
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	go func() {
		defer close(done)
		for d := range ch {
			if m := fq.FindStringSubmatch(d.String()); m != nil {
				for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
					names[m[1]+suffix] = true
				}
			}
		}
	}()
	s.metrics.registry.Describe(ch)
	prometheus.DefaultRegisterer.(*prometheus.Registry).Describe(ch)
	close(ch)
	<-done
	return names
}

// queueFake is a scanner with a queue (as scan/trivy has), so that the
// queue gauges are registered.
type queueFake struct{ *scantest.Fake }

func (queueFake) QueueStats() scan.QueueStats { return scan.QueueStats{Workers: 2} }

// referenced matches the metric names rules, dashboards and docs mention.
var referenced = regexp.MustCompile(`\b(?:imagegate|registry)_[a-z0-9_]*[a-z0-9]`)

// TestMonitoringNamesExist: every metric the shipped rules, their tests,
// the dashboard and docs/monitoring.md name is one the server exports —
// and every imagegate_* metric the server exports is in
// docs/monitoring.md's tables.
func TestMonitoringNamesExist(t *testing.T) {
	names := exportedNames(t)
	files := []string{"../docs/monitoring.md", "../deploy/prometheus/imagegate-rules.yml", "../deploy/grafana/imagegate.json"}
	tests, _ := filepath.Glob("../deploy/prometheus/tests/*.yml")
	files = append(files, tests...)
	var docs string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, "monitoring.md") {
			docs = string(data)
		}
		seen := map[string]bool{}
		for _, name := range referenced.FindAllString(string(data), -1) {
			if !names[name] && !seen[name] && !strings.HasPrefix(name, "imagegate_test") {
				seen[name] = true
				t.Errorf("%s names %s, which the server does not export", f, name)
			}
		}
	}
	var ours []string
	for n := range names {
		if strings.HasPrefix(n, "imagegate_") && !strings.HasSuffix(n, "_bucket") && !strings.HasSuffix(n, "_sum") &&
			!(strings.HasSuffix(n, "_count") && names[strings.TrimSuffix(n, "_count")+"_bucket"]) {
			ours = append(ours, n)
		}
	}
	sort.Strings(ours)
	if len(ours) < 35 {
		t.Fatalf("only %d imagegate metrics found: %v", len(ours), ours)
	}
	for _, n := range ours {
		if !strings.Contains(docs, "`"+n+"`") {
			t.Errorf("docs/monitoring.md does not document %s", n)
		}
	}
}
