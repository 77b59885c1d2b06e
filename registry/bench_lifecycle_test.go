package registry

import (
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/config"
)

// BenchmarkManifestPutLifecycle measures what immutable tags and quotas
// add to a tagged manifest PUT: alternating in one run between a server
// without them and one where every tag of the PUT (1.0.N) is protected
// (semver under "**") and the namespace has a quota (every PUT takes the
// budget's lock and reads its charge). It reports both p50s and the
// difference.
//
//	go test -run '^$' -bench BenchmarkManifestPutLifecycle -benchtime 300x ./registry
func BenchmarkManifestPutLifecycle(b *testing.B) {
	plain := startServer(&testing.T{}, nil)
	defer plain.Shutdown(context.Background())
	ruled := startServer(&testing.T{}, func(c *config.Config) {
		c.Lifecycle.Immutable = []config.ImmutableRule{{Repositories: "**", Tags: []string{"semver"}}}
		c.Lifecycle.Quotas = []config.Quota{{Repositories: "**", Scope: "namespace", MaxBytes: 1 << 40}}
	})
	defer ruled.Shutdown(context.Background())
	sides := alternate(b, newPutSide(b, plain.base, plain), newPutSide(b, ruled.base, ruled))
	without, with := sides[0].percentile(50), sides[1].percentile(50)
	b.ReportMetric(without, "plain-p50-ms")
	b.ReportMetric(with, "lifecycle-p50-ms")
	b.ReportMetric(sides[1].percentile(99), "lifecycle-p99-ms")
	b.ReportMetric(with-without, "added-p50-ms")
}

// BenchmarkManifestGetPulls measures what last-pull tracking adds to a
// manifest GET: alternating GETs by tag between a server with
// lifecycle.pulls off and one with it on (the flush is an hour away, so
// every GET only updates the buffer, as between two flushes). It reports
// both p50s and the difference.
//
//	go test -run '^$' -bench BenchmarkManifestGetPulls -benchtime 2000x ./registry
func BenchmarkManifestGetPulls(b *testing.B) {
	off := startServer(&testing.T{}, func(c *config.Config) { c.Lifecycle.Pulls.Enabled = false })
	defer off.Shutdown(context.Background())
	on := startServer(&testing.T{}, func(c *config.Config) { c.Lifecycle.Pulls.FlushInterval = time.Hour })
	defer on.Shutdown(context.Background())
	sides := []*getSide{newGetSide(b, off), newGetSide(b, on)}
	b.ResetTimer()
	for b.Loop() {
		for _, s := range sides {
			s.get(b)
		}
	}
	b.StopTimer()
	if on.pulls.Stats().Noted == 0 {
		b.Fatal("no pull noted: the measurement proves nothing")
	}
	without, with := sides[0].p50(), sides[1].p50()
	b.ReportMetric(without, "off-p50-µs")
	b.ReportMetric(with, "on-p50-µs")
	b.ReportMetric(with-without, "added-p50-µs")
}

// getSide is one registry under measurement: the tag it GETs and the
// latencies seen.
type getSide struct {
	url    string
	client *http.Client
	lat    []time.Duration
}

func newGetSide(b *testing.B, s *testServer) *getSide {
	img, _ := random.Image(512, 1)
	ref, _ := name.ParseReference(s.host()+"/bench/app:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	return &getSide{url: s.base + "/v2/bench/app/manifests/v1", client: &http.Client{}}
}

func (g *getSide) get(b *testing.B) {
	req, _ := http.NewRequest(http.MethodGet, g.url, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	start := time.Now()
	resp, err := g.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	g.lat = append(g.lat, time.Since(start))
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d", g.url, resp.StatusCode)
	}
}

// p50 is the median latency in microseconds.
func (g *getSide) p50() float64 {
	lat := slices.Sorted(slices.Values(g.lat))
	return float64(lat[len(lat)/2].Nanoseconds()) / 1000
}
