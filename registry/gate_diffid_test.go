package registry

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/compressed"
	"github.com/imagegate/imagegate/metadata"
)

// configWithDiffIDs is an image config claiming diffs.
func configWithDiffIDs(diffs ...digest.Digest) []byte {
	return fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%s]}}`,
		strings.Join(func() []string {
			q := make([]string, len(diffs))
			for i, d := range diffs {
				q[i] = `"` + d.String() + `"`
			}
			return q
		}(), ","))
}

// TestGateVerifiesDiffIDs reproduces scan-cache poisoning at its root: a
// config may claim any diff_id for a layer, and the scanner keys its layer
// cache by that claim. Before the gate verified diff_ids, every forged
// manifest below was stored (201). Now each claim is checked against the
// layer's uncompressed bytes, and decompression is bounded.
func TestGateVerifiesDiffIDs(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.Validation.MaxLayerRatio = 200
		c.Validation.MaxUncompressedLayerBytes = 200 << 20
	})
	repo := "alice/app"
	layer := func(data []byte) desc {
		return desc{MediaType: ociLayer, Digest: uploadBlob(t, s, repo, data), Size: int64(len(data))}
	}
	plain := []byte(strings.Repeat("clean layer ", 100))
	victim := []byte(strings.Repeat("vulnerable base layer ", 100))
	gz := compressed.Gzip(t, plain)
	bomb := compressed.Gzip(t, make([]byte, 150<<20)) // 150 MiB of zeros in ~150 KiB
	corrupt := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, bytes.Repeat([]byte{0xee}, 64)...)

	cases := []struct {
		name       string
		layer      []byte
		claimed    digest.Digest
		wantStatus int
		wantCode   string
		wantReason string
	}{
		{"another layer's diff_id (cache poisoning)", plain, digest.FromBytes(victim), 400, "MANIFEST_INVALID", "uncompressed content has digest " + digest.FromBytes(plain).String()},
		{"gzip layer claiming its compressed digest", gz, digest.FromBytes(gz), 400, "MANIFEST_INVALID", "lists diff_id"},
		{"gzip layer claiming another layer's diff_id", gz, digest.FromBytes(victim), 400, "MANIFEST_INVALID", "lists diff_id"},
		{"corrupt gzip", corrupt, digest.FromBytes(corrupt), 400, "MANIFEST_INVALID", "cannot be decompressed"},
		{"decompression bomb", bomb, digest.FromBytes(make([]byte, 150<<20)), 403, "DENIED", "validation.maxlayerratio"},
		{"honest gzip", gz, digest.FromBytes(plain), 201, "", ""},
		{"honest zstd", compressed.Zstd(t, victim), digest.FromBytes(victim), 201, "", ""},
		{"honest plain tar", plain, digest.FromBytes(plain), 201, "", ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := layer(tc.layer)
			cfg := configWithDiffIDs(tc.claimed)
			c := desc{MediaType: ociConfig, Digest: uploadBlob(t, s, repo, cfg), Size: int64(len(cfg))}
			body := manifestJSON(ociManifest, &c, []desc{l}, nil)
			tag := fmt.Sprintf("case%d", i)
			status, _, resp := do(t, "PUT", s.base+"/v2/"+repo+"/manifests/"+tag, http.Header{"Content-Type": {ociManifest}}, bytes.NewReader(body))
			if status != tc.wantStatus {
				t.Fatalf("status %d %s, want %d", status, resp, tc.wantStatus)
			}
			if tc.wantCode == "" {
				return
			}
			if !slices.Contains(ociErrorCodes(t, resp), tc.wantCode) || !strings.Contains(string(resp), tc.wantReason) {
				t.Fatalf("body %s, want %s with %q", resp, tc.wantCode, tc.wantReason)
			}
			page, err := s.store.List(t.Context(), metadata.Query{Digest: digest.FromBytes(body), Repository: repo})
			if err != nil || len(page.Records) != 1 || page.Records[0].Status != metadata.StatusRejected {
				t.Fatalf("records %+v (%v), want one rejected", page.Records, err)
			}
		})
	}
}

// TestGateRemembersDiffIDs: a verified diff_id is kept in storage by blob
// digest (shared by every replica on the same bucket); a layer known
// before is not decompressed again, so a limit lowered afterwards does not
// refuse images already on it.
func TestGateRemembersDiffIDs(t *testing.T) {
	var root string
	s := startServer(t, func(c *config.Config) { root = c.Storage.Filesystem.RootDirectory })
	repo := "team/app"
	data := bytes.Repeat([]byte("layer "), 2000)
	gz := compressed.Gzip(t, data)
	l := desc{MediaType: ociLayer, Digest: uploadBlob(t, s, repo, gz), Size: int64(len(gz))}
	cfg := configWithDiffIDs(digest.FromBytes(data))
	c := desc{MediaType: ociConfig, Digest: uploadBlob(t, s, repo, cfg), Size: int64(len(cfg))}
	body := manifestJSON(ociManifest, &c, []desc{l}, nil)
	if status, _, resp := do(t, "PUT", s.base+"/v2/"+repo+"/manifests/v1", http.Header{"Content-Type": {ociManifest}}, bytes.NewReader(body)); status != 201 {
		t.Fatalf("push: %d %s", status, resp)
	}
	entry, err := os.ReadFile(filepath.Join(root, "imagegate", "diffids", "sha256", l.Digest.Encoded(), "sha256"))
	if err != nil || string(entry) != digest.FromBytes(data).String() {
		t.Fatalf("remembered diff_id %q (%v), want %s", entry, err, digest.FromBytes(data))
	}
	// The remembered entry is what the gate reads: a (hypothetically
	// corrupted) entry is believed, which proves the layer was not read.
	if err := os.WriteFile(filepath.Join(root, "imagegate", "diffids", "sha256", l.Digest.Encoded(), "sha256"), []byte(digest.FromString("x")), 0o600); err != nil {
		t.Fatal(err)
	}
	status, _, resp := do(t, "PUT", s.base+"/v2/"+repo+"/manifests/v2", http.Header{"Content-Type": {ociManifest}}, bytes.NewReader(body))
	if status != 400 || !strings.Contains(string(resp), digest.FromString("x").String()) {
		t.Fatalf("second push: %d %s; want the remembered diff_id to be used", status, resp)
	}
}
