package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
)

// uploadBlob uploads data to repo in one request and returns its digest.
func uploadBlob(t *testing.T, s *testServer, repo string, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	status, hdr, body := do(t, "POST", s.base+"/v2/"+repo+"/blobs/uploads/", nil, nil)
	if status != http.StatusAccepted {
		t.Fatalf("open upload: %d %s", status, body)
	}
	loc := hdr.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = s.base + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	status, _, body = do(t, "PUT", loc+sep+"digest="+d.String(), http.Header{"Content-Type": {"application/octet-stream"}}, bytes.NewReader(data))
	if status != http.StatusCreated {
		t.Fatalf("finish upload: %d %s", status, body)
	}
	return d
}

// desc is a descriptor as it appears in manifest JSON.
type desc struct {
	MediaType   string            `json:"mediaType"`
	Digest      digest.Digest     `json:"digest"`
	Size        int64             `json:"size"`
	URLs        []string          `json:"urls,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

const (
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	ociIndex    = "application/vnd.oci.image.index.v1+json"
	ociConfig   = "application/vnd.oci.image.config.v1+json"
	ociLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// fixture is a repository with uploaded blobs to build manifests from.
type fixture struct {
	layers   []desc // three distinct 400-byte layers
	config   desc   // a valid config for the three layers
	labelled desc   // a valid config for the three layers carrying a source label
}

// fixtureLayer is the content of the fixture's layer i: plain bytes, so
// its diff_id is its digest.
func fixtureLayer(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 400) }

// imageConfig is an image config whose diff_ids are those of the first
// layers fixture layers.
func imageConfig(layers int, labels map[string]string) []byte {
	diffs := make([]string, layers)
	for i := range diffs {
		diffs[i] = digest.FromBytes(fixtureLayer(i)).String()
	}
	cfg := map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffs},
		"config": map[string]any{"Labels": labels},
	}
	b, _ := json.Marshal(cfg)
	return b
}

func newFixture(t *testing.T, s *testServer, repo string) fixture {
	var f fixture
	for i := range 3 {
		f.layers = append(f.layers, desc{MediaType: ociLayer, Digest: uploadBlob(t, s, repo, fixtureLayer(i)), Size: 400})
	}
	cfg := imageConfig(3, nil)
	f.config = desc{MediaType: ociConfig, Digest: uploadBlob(t, s, repo, cfg), Size: int64(len(cfg))}
	lab := imageConfig(3, map[string]string{"org.opencontainers.image.source": "https://example.com/src"})
	f.labelled = desc{MediaType: ociConfig, Digest: uploadBlob(t, s, repo, lab), Size: int64(len(lab))}
	return f
}

func manifestJSON(mediaType string, config *desc, layers []desc, extra map[string]any) []byte {
	m := map[string]any{"schemaVersion": 2, "mediaType": mediaType, "layers": layers}
	if config != nil {
		m["config"] = config
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

// TestGateRefusesInvalidManifests pushes invalid manifests; each gets the
// expected status and OCI code, no tag, and a rejected record naming why.
func TestGateRefusesInvalidManifests(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.Validation.MaxLayers = 3
		c.Validation.MaxLayerBytes = 1000
		c.Validation.MaxImageBytes = 2000
		c.Validation.Lint = []config.LintRule{{Repositories: "lint/**",
			Labels: []string{"org.opencontainers.image.source"}, Annotations: []string{"org.opencontainers.image.revision"}}}
	})
	repo := "gate/app"
	f := newFixture(t, s, repo)
	lintRepo := "lint/app"
	lf := newFixture(t, s, lintRepo)
	// Blobs of sizes the limits refuse.
	big := desc{MediaType: ociLayer, Digest: uploadBlob(t, s, repo, bytes.Repeat([]byte("z"), 1500)), Size: 1500}
	big2 := desc{MediaType: ociLayer, Digest: uploadBlob(t, s, repo, bytes.Repeat([]byte("y"), 900)), Size: 900}
	cfg2 := imageConfig(2, nil)
	config2 := desc{MediaType: ociConfig, Digest: uploadBlob(t, s, repo, cfg2), Size: int64(len(cfg2))}
	upload := func(data []byte, mediaType string) desc {
		return desc{MediaType: mediaType, Digest: uploadBlob(t, s, repo, data), Size: int64(len(data))}
	}
	notJSON := upload([]byte("not json"), ociConfig)
	wrongRootfs := upload([]byte(`{"os":"linux","architecture":"amd64","rootfs":{"type":"tarballs","diff_ids":[]}}`), ociConfig)
	missing := desc{MediaType: ociLayer, Digest: digest.FromString("never uploaded"), Size: 14}
	layer1 := f.layers[:1]
	oneDiff := imageConfig(1, nil)
	config1 := upload(oneDiff, ociConfig)
	withSize := func(d desc, size int64) desc { d.Size = size; return d }
	withType := func(d desc, mt string) desc { d.MediaType = mt; return d }

	cases := []struct {
		name       string
		repo       string
		mediaType  string
		body       []byte
		wantStatus int
		wantCode   string
		wantReason string // part of the recorded reason ("" when distribution refuses before the gate)
	}{
		{"schema1", repo, "application/vnd.docker.distribution.manifest.v1+prettyjws", []byte(`{"schemaVersion":1}`), 400, "MANIFEST_INVALID", ""},
		{"not JSON", repo, ociManifest, []byte("{not json"), 400, "MANIFEST_INVALID", ""},
		{"schemaVersion 1", repo, ociManifest, manifestJSON(ociManifest, &config1, layer1, map[string]any{"schemaVersion": 1}), 400, "MANIFEST_INVALID", "schemaVersion"},
		{"mediaType disagrees", repo, ociManifest, manifestJSON(ociIndex, &config1, layer1, nil), 400, "MANIFEST_INVALID", ""},
		{"no config", repo, ociManifest, manifestJSON(ociManifest, nil, layer1, nil), 400, "MANIFEST_INVALID", ""},
		{"config not uploaded", repo, ociManifest, manifestJSON(ociManifest, &desc{MediaType: ociConfig, Digest: digest.FromString("nope"), Size: 4}, layer1, nil), 400, "MANIFEST_BLOB_UNKNOWN", "was not uploaded"},
		{"layer not uploaded", repo, ociManifest, manifestJSON(ociManifest, &config1, []desc{missing}, nil), 400, "MANIFEST_BLOB_UNKNOWN", missing.Digest.String()},
		{"layer size understated", repo, ociManifest, manifestJSON(ociManifest, &config1, []desc{withSize(f.layers[0], 399)}, nil), 400, "SIZE_INVALID", "declares blob"},
		{"config size overstated", repo, ociManifest, manifestJSON(ociManifest, ptr(withSize(config1, config1.Size+1)), layer1, nil), 400, "SIZE_INVALID", "declares blob"},
		{"negative layer size", repo, ociManifest, manifestJSON(ociManifest, &config1, []desc{withSize(f.layers[0], -1)}, nil), 400, "SIZE_INVALID", "negative"},
		{"invalid layer digest", repo, ociManifest, manifestJSON(ociManifest, &config1, []desc{{MediaType: ociLayer, Digest: "sha256:xyz", Size: 1}}, nil), 400, "DIGEST_INVALID", "invalid digest"},
		{"config not JSON", repo, ociManifest, manifestJSON(ociManifest, &notJSON, nil, nil), 400, "MANIFEST_INVALID", "not valid JSON"},
		{"config rootfs type", repo, ociManifest, manifestJSON(ociManifest, &wrongRootfs, nil, nil), 400, "MANIFEST_INVALID", "rootfs.type"},
		{"diff_ids count", repo, ociManifest, manifestJSON(ociManifest, &f.config, layer1, nil), 400, "MANIFEST_INVALID", "3 diff_ids but the manifest has 1"},
		{"unknown layer type", repo, ociManifest, manifestJSON(ociManifest, &config1, []desc{withType(f.layers[0], "text/plain")}, nil), 400, "MANIFEST_INVALID", "not an image layer type"},
		{"foreign layer", repo, ociManifest, manifestJSON(ociManifest, &config1, []desc{withType(f.layers[0], "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")}, nil), 403, "DENIED", "non-distributable"},
		{"too many layers", repo, ociManifest, manifestJSON(ociManifest, ptr(upload(imageConfig(4, nil), ociConfig)), append(slices.Clone(f.layers), big2), nil), 403, "DENIED", "4 layers; the limit is 3"},
		{"layer too large", repo, ociManifest, manifestJSON(ociManifest, &config1, []desc{big}, nil), 403, "DENIED", "the limit is 1000"},
		{"image too large", repo, ociManifest, manifestJSON(ociManifest, &config2, []desc{big2, withSize(big2, 900)}, nil), 403, "DENIED", "the limit is 2000"},
		{"lint: missing label", lintRepo, ociManifest, manifestJSON(ociManifest, &lf.config, lf.layers, map[string]any{"annotations": map[string]string{"org.opencontainers.image.revision": "abc"}}), 403, "DENIED", "org.opencontainers.image.source"},
		{"lint: missing annotation", lintRepo, ociManifest, manifestJSON(ociManifest, &lf.labelled, lf.layers, nil), 403, "DENIED", "org.opencontainers.image.revision"},
		{"index with missing child", repo, ociIndex, manifestJSON(ociIndex, nil, nil, map[string]any{"manifests": []desc{{MediaType: ociManifest, Digest: digest.FromString("no such manifest"), Size: 100}}}), 400, "MANIFEST_BLOB_UNKNOWN", "not in this repository"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tag := fmt.Sprintf("case%d", i)
			status, _, body := do(t, "PUT", s.base+"/v2/"+tc.repo+"/manifests/"+tag,
				http.Header{"Content-Type": {tc.mediaType}}, bytes.NewReader(tc.body))
			if status != tc.wantStatus || !slices.Contains(ociErrorCodes(t, body), tc.wantCode) {
				t.Fatalf("status %d body %s; want %d %s", status, body, tc.wantStatus, tc.wantCode)
			}
			if st, _, _ := do(t, "HEAD", s.base+"/v2/"+tc.repo+"/manifests/"+tag, nil, nil); st != http.StatusNotFound {
				t.Fatalf("refused manifest is tagged (HEAD %d)", st)
			}
			if tc.wantReason == "" {
				return
			}
			d := digest.FromBytes(tc.body)
			page, err := s.store.List(t.Context(), metadata.Query{Digest: d, Repository: tc.repo})
			if err != nil || len(page.Records) != 1 {
				t.Fatalf("records of the refused push: %d (%v)", len(page.Records), err)
			}
			r := page.Records[0]
			if r.Status != metadata.StatusRejected || !strings.Contains(r.Reason, tc.wantReason) || !slices.Contains(r.Tags, tag) {
				t.Fatalf("record %s %q tags %v; want rejected with %q", r.Status, r.Reason, r.Tags, tc.wantReason)
			}
		})
	}

	// The same blobs in a valid manifest pass.
	good := manifestJSON(ociManifest, &f.config, f.layers, nil)
	if status, _, body := do(t, "PUT", s.base+"/v2/"+repo+"/manifests/good", http.Header{"Content-Type": {ociManifest}}, bytes.NewReader(good)); status != http.StatusCreated {
		t.Fatalf("valid manifest: %d %s", status, body)
	}
}

func ptr[T any](v T) *T { return &v }

// TestGateArtifactsPolicy: artifacts pass by default and are refused when
// validation.artifacts is off.
func TestGateArtifactsPolicy(t *testing.T) {
	for _, allow := range []bool{true, false} {
		s := startServer(t, func(c *config.Config) { c.Validation.Artifacts = allow })
		empty := []byte("{}")
		cfg := desc{MediaType: "application/vnd.oci.empty.v1+json", Digest: uploadBlob(t, s, "art/x", empty), Size: 2}
		sbom := []byte(`{"spdxVersion":"SPDX-2.3"}`)
		layer := desc{MediaType: "application/spdx+json", Digest: uploadBlob(t, s, "art/x", sbom), Size: int64(len(sbom))}
		body := manifestJSON(ociManifest, &cfg, []desc{layer}, map[string]any{"artifactType": "application/spdx+json"})
		status, _, resp := do(t, "PUT", s.base+"/v2/art/x/manifests/sbom", http.Header{"Content-Type": {ociManifest}}, bytes.NewReader(body))
		want := map[bool]int{true: http.StatusCreated, false: http.StatusForbidden}[allow]
		if status != want {
			t.Fatalf("artifacts=%v: status %d %s, want %d", allow, status, resp, want)
		}
	}
}
