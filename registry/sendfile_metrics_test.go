package registry

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/config"
)

// TestBlobPullRecordedOnBothPaths: a blob GET answered by ingest's
// sendfile path (the default on the filesystem driver) moves imagegate's
// access line, imagegate_http_response_bytes_total{route="blob"} and
// imagegate_ingest_sendfile_* by the blob's size, as distribution's path
// (storage.filesystem.ingest: distribution) moves the first two; there
// the sendfile counters stay at 0.
func TestBlobPullRecordedOnBothPaths(t *testing.T) {
	for _, c := range []struct {
		writer   string
		sendfile bool
	}{{config.FilesystemWriterImagegate, true}, {config.FilesystemWriterDistribution, false}} {
		t.Run(c.writer, func(t *testing.T) {
			s := startServer(t, func(cfg *config.Config) { cfg.Storage.Filesystem.Ingest = c.writer })
			layer, err := random.Layer(300_000, types.OCILayer)
			if err != nil {
				t.Fatal(err)
			}
			repo, _ := name.NewRepository(s.host()+"/team/pull", name.Insecure)
			if err := remote.WriteLayer(repo, layer); err != nil {
				t.Fatalf("push: %v", err)
			}
			dgst, _ := layer.Digest()
			size, _ := layer.Size()
			status, _, body := do(t, http.MethodGet, s.base+"/v2/team/pull/blobs/"+dgst.String(), nil, nil)
			if status != http.StatusOK || int64(len(body)) != size {
				t.Fatalf("GET blob: %d, %d bytes, want 200 and %d", status, len(body), size)
			}
			// The access line and the HTTP metrics are recorded once the
			// handler returns, which may be after the client read the body.
			const bytesOut = `imagegate_http_response_bytes_total{method="GET",route="blob",status="200"}`
			var scrape string
			waitFor(t, 30*time.Second, "the GET's metrics and access line", func() bool {
				scrape = scrapeMetrics(t, s)
				return strings.Contains(scrape, bytesOut+" ") && accessLine(t, s) != nil
			})
			if got := sampleValue(t, scrape, bytesOut); got != float64(size) {
				t.Errorf("imagegate_http_response_bytes_total for the GET: %v, want %d", got, size)
			}
			if !c.sendfile && strings.Contains(scrape, "imagegate_ingest_sendfile_bytes_total") {
				t.Error("distribution's path exports the sendfile counters")
			}
			if c.sendfile {
				got := [2]float64{sampleValue(t, scrape, "imagegate_ingest_sendfile_responses_total"), sampleValue(t, scrape, "imagegate_ingest_sendfile_bytes_total")}
				if want := [2]float64{1, float64(size)}; got != want {
					t.Errorf("sendfile responses, bytes: %v, want %v", got, want)
				}
			}
			if line := accessLine(t, s); line == nil || fmt.Sprint(line["bytes_out"]) != fmt.Sprint(size) {
				t.Errorf("access line of the GET: %v, want bytes_out %d", line, size)
			}
		})
	}
}

// accessLine returns the server's last access line of a blob GET, or nil.
func accessLine(t *testing.T, s *testServer) map[string]any {
	t.Helper()
	var line map[string]any
	for _, l := range s.logs.lines(t) {
		if l["msg"] == "request" && l["method"] == "GET" && l["route"] == "blob" {
			line = l
		}
	}
	return line
}
