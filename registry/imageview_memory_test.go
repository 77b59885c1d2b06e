package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/internal/testutil/memstat"
)

// Bounds of one view of a stored image's config and layers through the
// API (what the web UI's image page asks for), whatever the pusher put in
// the config: the gate takes configs of up to 8 MiB.
const (
	// maxConfigViewAlloc bounds the bytes the server allocates for one
	// GET …/config or …/layers of the hostile image below. Before the
	// config was read as a stream (internal/imageconfig), one view of the
	// config allocated 57–111 MB and one of the layers 31–42 MB. Measured
	// after: 2.0–3.4 MB, 4.5 MB under -race (its instrumentation and a
	// busy server's other requests count too), so the bound leaves room
	// for both while still failing the old code many times over.
	maxConfigViewAlloc = 16 << 20
	// hostileViewLabels, hostileViewLabelBytes: the labels of the hostile
	// config (apostrophes, as in test/ui's hostile image: just under the
	// gate's 8 MiB).
	hostileViewLabels     = 1900
	hostileViewLabelBytes = 4096
)

// TestImageViewMemoryBounded pushes an image whose config is 8 MiB of
// labels and a 200 KB history entry, then reads its config and its layer
// report through the API, one at a time and 8 at once: each view
// allocates a bounded amount (not the config's size several times over),
// and the answers say what they left out.
func TestImageViewMemoryBounded(t *testing.T) {
	s := startServer(t, analysisPolicies)
	img := imageOf(t, [][]byte{layerTar(t, tarFile{"app/data.bin", 1000}), layerTar(t, tarFile{"app/more.bin", 1000})},
		[]string{"ADD app /", "RUN " + strings.Repeat("'", 200_000)})
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Labels = map[string]string{"org.opencontainers.image.source": "https://git.example/app"}
	for i := range hostileViewLabels - 1 {
		cf.Config.Labels[fmt.Sprintf("z%05d", i)] = strings.Repeat("'", hostileViewLabelBytes)
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(s.host()+"/audit/hostile:1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	d, _ := img.Digest()
	base := s.base + "/api/v1/repositories/audit/hostile/manifests/" + d.String()

	for _, sub := range []string{"/config", "/layers"} {
		view(t, base+sub) // warm: first-use allocations are not the view's
		alloc, n := allocsOf(func() int64 { return view(t, base+sub) })
		t.Logf("GET …%s: %d bytes answered, %.1f MB allocated", sub, n, float64(alloc)/1e6)
		if alloc > maxConfigViewAlloc {
			t.Errorf("GET …%s allocated %d bytes, want at most %d", sub, alloc, maxConfigViewAlloc)
		}
	}
	peak := peakHeapOf(func() {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				view(t, base+"/config")
				view(t, base+"/layers")
			})
		}
		wg.Wait()
	})
	t.Logf("8 concurrent views of …/config and …/layers: heap peak %.0f MiB above the start", float64(peak)/(1<<20))

	status, _, body := do(t, http.MethodGet, base+"/config", nil, nil)
	var answer struct {
		ConfigDigest string            `json:"config_digest"`
		Labels       map[string]string `json:"labels"`
		LabelCount   int               `json:"label_count"`
		Truncated    []string          `json:"truncated"`
	}
	cd, _ := img.ConfigName()
	if err := json.Unmarshal(body, &answer); status != http.StatusOK || err != nil {
		t.Fatalf("GET …/config: %d %.300s (%v)", status, body, err)
	}
	t.Logf("GET …/config: %d labels answered of %d, truncated %q", len(answer.Labels), answer.LabelCount, answer.Truncated)
	if answer.LabelCount != hostileViewLabels || answer.Labels["org.opencontainers.image.source"] != "https://git.example/app" ||
		len(answer.Labels) < 50 || !slices.Equal(answer.Truncated, []string{"labels"}) || answer.ConfigDigest != cd.String() {
		t.Errorf("GET …/config: %d labels of %d, truncated %q, config digest %s; want the first labels, 1900 counted, labels truncated, %s",
			len(answer.Labels), answer.LabelCount, answer.Truncated, answer.ConfigDigest, cd)
	}
	status, _, body = do(t, http.MethodGet, base+"/layers", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(body), "… (200004 bytes)") {
		t.Errorf("GET …/layers: %d %.600s, want the 200 KB command cut with its length", status, body)
	}
}

// view GETs url, failing t unless it answers 200; it returns the
// answer's length, read without keeping it.
func view(t *testing.T, url string) int64 {
	resp, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Errorf("GET %s: %d (%v)", url, resp.StatusCode, err)
	}
	return n
}

// allocsOf is how many bytes the process allocated while f ran (the
// server is in this process) and what f returned.
func allocsOf(f func() int64) (uint64, int64) {
	var n int64
	return memstat.Allocated(func() { n = f() }), n
}

// peakHeapOf is the highest live heap sampled (every millisecond) while f
// ran, above the live heap before it.
func peakHeapOf(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	start := read()
	var peak uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	<-sampled
	return max(peak, start) - start
}
