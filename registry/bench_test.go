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

// BenchmarkManifestPut measures a tagged manifest PUT of a three-layer image
// whose blobs are already uploaded, through imagegate (gate: validation and
// recording on bbolt; no scanning) and through distribution's bare app with
// the same storage. The difference is the gate's overhead.
func BenchmarkManifestPut(b *testing.B) {
	b.Run("imagegate", func(b *testing.B) {
		s := startServer(&testing.T{}, nil)
		defer s.Shutdown(context.Background())
		benchPuts(b, s.base, s)
	})
	b.Run("distribution", func(b *testing.B) {
		cfg := config.Default()
		cfg.Storage.Filesystem.RootDirectory = filepath.Join(b.TempDir(), "registry")
		app := handlers.NewApp(context.Background(), cfg.Distribution(randomSecret()))
		ts := httptest.NewServer(app)
		defer ts.Close()
		benchPuts(b, ts.URL, &testServer{base: ts.URL})
	})
}

func benchPuts(b *testing.B, base string, s *testServer) {
	t := &testing.T{}
	f := newFixture(t, s, "bench/app")
	body := manifestJSON(ociManifest, &f.config, f.layers, nil)
	client := &http.Client{}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/v2/bench/app/manifests/t%d", base, i), bytes.NewReader(body))
		req.Header.Set("Content-Type", ociManifest)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("PUT: %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
