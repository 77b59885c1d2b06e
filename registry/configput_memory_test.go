package registry

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
)

// maxConfigPutAlloc bounds the bytes the server allocates for one
// manifest PUT of an image whose 8 MiB config is empty history entries.
// Before the gate decoded only what it reads of a config, one such PUT
// allocated 1,045 MB (v1.Image's History of 2.8 million entries);
// measured after: 12.7 MB (the config read once, plus the PUT's own
// work), 12.8 MB under -race, so the bound leaves room for the race
// detector and a busy machine while failing the old code 25 times over.
const maxConfigPutAlloc = 40 << 20

// maxConfigPutPeak bounds the live heap of 8 such PUTs at once: at most
// the validator's config budget (64 MiB: 8 configs of 8 MiB) and what
// each check reads besides. Before, 8 PUTs each held the config and its
// decoding at once: 3.5 GiB. After: 93 MiB, 97 MiB under -race.
const maxConfigPutPeak = 192 << 20

// TestManifestPutConfigMemoryBounded pushes an image whose config is
// just under the gate's 8 MiB of empty history entries — the config
// that costs the most memory decoded — through the registry's manifest
// PUT, once and 8 at once: each PUT allocates the config's size and a
// bounded amount more. The gate decodes the whole config before it
// counts its entries, and then refuses it (400 MANIFEST_INVALID, more
// than 10,000 entries in /history): it was accepted until the entries of
// a config were bounded for the scanner's sake (validate's
// TestScannedConfigDecodingBounded).
func TestManifestPutConfigMemoryBounded(t *testing.T) {
	s := startServer(t, nil)
	const repo = "hostile/config"
	layer := fixtureLayer(0)
	ld := uploadBlob(t, s, repo, layer)
	var cfg bytes.Buffer
	cfg.WriteString(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(layer).String() +
		`"]},"history":[{"created_by":"ADD data /"}`)
	for cfg.Len() < 8<<20-64 {
		cfg.WriteString(",{}")
	}
	cfg.WriteString("]}")
	cd := uploadBlob(t, s, repo, cfg.Bytes())
	manifest := manifestJSON(ociManifest, &desc{MediaType: ociConfig, Digest: cd, Size: int64(cfg.Len())},
		[]desc{{MediaType: ociLayer, Digest: ld, Size: int64(len(layer))}}, nil)
	put := func(tag string) int64 {
		status, _, body := do(t, http.MethodPut, s.base+"/v2/"+repo+"/manifests/"+tag,
			http.Header{"Content-Type": {ociManifest}}, bytes.NewReader(manifest))
		if status != http.StatusBadRequest || !bytes.Contains(body, []byte(`"code":"MANIFEST_INVALID"`)) ||
			!bytes.Contains(body, []byte("more than 10000 entries in /history")) {
			t.Errorf("PUT %s: %d %.300s, want 400 MANIFEST_INVALID naming /history", tag, status, body)
		}
		return int64(len(body))
	}
	put("warm") // first-use allocations are not the PUT's
	alloc, _ := allocsOf(func() int64 { return put("one") })
	t.Logf("one PUT of a %d-byte config: %.1f MB allocated", cfg.Len(), float64(alloc)/1e6)
	if alloc > maxConfigPutAlloc {
		t.Errorf("one manifest PUT allocated %d bytes, want at most %d", alloc, maxConfigPutAlloc)
	}
	peak := peakHeapOf(func() {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() { put(fmt.Sprintf("c%d", i)) })
		}
		wg.Wait()
	})
	t.Logf("8 concurrent PUTs: heap peak %.0f MiB above the start", float64(peak)/(1<<20))
	if peak > maxConfigPutPeak {
		t.Errorf("8 concurrent manifest PUTs: heap peak %d bytes above the start, want at most %d", peak, maxConfigPutPeak)
	}
}
