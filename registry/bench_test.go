package registry

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/handlers"

	"github.com/imagegate/imagegate/config"
)

// BenchmarkManifestPut measures tagged manifest PUTs of a three-layer image
// whose blobs are already uploaded, alternating in one run between
// imagegate (push pipeline: validation with diff_ids remembered, one
// pending and one final record on bbolt, tag lock; no scanning) and
// distribution's bare app on the same kind of storage, so that both see
// the same machine load. It reports each side's p50 and p99, the p50
// overhead in milliseconds and the p50 ratio.
//
//	go test -run '^$' -bench BenchmarkManifestPut -benchtime 300x ./registry
func BenchmarkManifestPut(b *testing.B) {
	s := startServer(&testing.T{}, nil)
	defer s.Shutdown(context.Background())
	cfg := config.Default()
	cfg.Storage.Filesystem.RootDirectory = filepath.Join(b.TempDir(), "registry")
	app := handlers.NewApp(context.Background(), cfg.Distribution(randomSecret()))
	bare := httptest.NewServer(app)
	defer bare.Close()

	sides := alternate(b, newPutSide(b, s.base, s), newPutSide(b, bare.URL, &testServer{base: bare.URL}))
	ig, dist := sides[0].percentile(50), sides[1].percentile(50)
	b.ReportMetric(ig, "imagegate-p50-ms")
	b.ReportMetric(sides[0].percentile(99), "imagegate-p99-ms")
	b.ReportMetric(dist, "distribution-p50-ms")
	b.ReportMetric(sides[1].percentile(99), "distribution-p99-ms")
	b.ReportMetric(ig-dist, "overhead-p50-ms")
	b.ReportMetric(ig/dist, "ratio-p50")
}

// alternate runs the benchmark's PUTs on every side in turn, so that all
// see the same machine load, and returns the sides with their latencies.
func alternate(b *testing.B, sides ...*putSide) []*putSide {
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for _, side := range sides {
			side.put(b, i)
		}
	}
	b.StopTimer()
	return sides
}

// putSide is one registry under measurement: the manifest it PUTs and
// the latencies seen.
type putSide struct {
	base   string
	body   []byte
	client *http.Client
	lat    []time.Duration
}

func newPutSide(b *testing.B, base string, s *testServer) *putSide {
	f := newFixture(&testing.T{}, s, "bench/app")
	return &putSide{base: base, body: manifestJSON(ociManifest, &f.config, f.layers, nil), client: &http.Client{}}
}

func (p *putSide) put(b *testing.B, i int) {
	req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/v2/bench/app/manifests/1.0.%d", p.base, i), bytes.NewReader(p.body))
	req.Header.Set("Content-Type", ociManifest)
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	p.lat = append(p.lat, time.Since(start))
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("PUT %s: %d", p.base, resp.StatusCode)
	}
}

// percentile is the q-th percentile latency, in milliseconds.
func (p *putSide) percentile(q int) float64 {
	lat := slices.Sorted(slices.Values(p.lat))
	return float64(lat[len(lat)*q/100].Microseconds()) / 1000
}
