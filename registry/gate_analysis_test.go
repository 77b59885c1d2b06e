package registry

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/layers"
	"github.com/imagegate/imagegate/metadata"
)

// tarFile is one entry of a synthetic layer: a regular file of Size
// bytes, or (Size < 0) a whiteout of Name.
type tarFile struct {
	Name string
	Size int64
}

// layerTar writes files as an uncompressed layer tar.
func layerTar(t *testing.T, files ...tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	rng := rand.NewChaCha8([32]byte{1})
	for _, f := range files {
		hdr := &tar.Header{Name: f.Name, Mode: 0o644, Size: f.Size, Typeflag: tar.TypeReg}
		if f.Size < 0 {
			dir, base := filepath.Split(f.Name)
			hdr.Name, hdr.Size = dir+".wh."+base, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		content := make([]byte, hdr.Size)
		_, _ = rng.Read(content) // incompressible, like real binaries (the tarball door bounds the ratio)
		if _, err := tw.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// imageOf builds an image of layers (uncompressed tars, gzipped by
// go-containerregistry), each with its history command.
func imageOf(t *testing.T, tars [][]byte, commands []string) v1.Image {
	t.Helper()
	img := empty.Image
	for i, b := range tars {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: commands[i]}}); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// wastefulImage has known waste, figures by Dive's definitions:
//
//	layer 1: /etc/base.conf 100,000, /app/data.bin 300,000
//	layer 2: /var/cache/apt/archives/big.deb 2,000,000, /usr/bin/tool 50,000
//	layer 3: big.deb deleted (whiteout), /app/data.bin rewritten (300,000)
//
// data.bin is held by 2 layers (600,000 wasted), big.deb by 2 (one of
// them its whiteout: 2,000,000 wasted): 2,600,000 wasted of 2,750,000,
// efficiency 450,000 / 2,750,000; the final tree holds 450,000 bytes.
func wastefulImage(t *testing.T) v1.Image {
	return imageOf(t, [][]byte{
		layerTar(t, tarFile{"etc/base.conf", 100_000}, tarFile{"app/data.bin", 300_000}),
		layerTar(t, tarFile{"var/cache/apt/archives/big.deb", 2_000_000}, tarFile{"usr/bin/tool", 50_000}),
		layerTar(t, tarFile{"var/cache/apt/archives/big.deb", -1}, tarFile{"app/data.bin", 300_000}),
	}, []string{"ADD base.tar /", "/bin/sh -c apt-get install -y tool", "/bin/sh -c rm /var/cache/apt/archives/big.deb && make data"})
}

const wastefulMessage = `image wastes 2.6 MB (95 %) — 2 MB of /var/cache/apt added in layer 2 by "apt-get install -y tool"; policy "team/**" allows at most 1 MB`

// analysisPolicies refuse waste above 1 MB in team/**, and only record it
// elsewhere.
func analysisPolicies(c *config.Config) {
	c.Analysis.Policies = []config.AnalysisPolicy{
		{Repositories: "team/**", Mode: "enforce", MaxWastedBytes: 1_000_000},
		{Repositories: "**", Mode: "audit", MaxWastedBytes: 1_000_000},
	}
}

// TestGateAnalysisThroughTheRegistryDoor: a wasteful image pushed with
// go-containerregistry is refused under enforce with the readable reason
// (403 DENIED), recorded as rejected with the analysis summary; under
// audit it is stored and its record says it would have been refused; the
// API serves the exact figures from the index kept at push time.
func TestGateAnalysisThroughTheRegistryDoor(t *testing.T) {
	var root string
	s := startServer(t, func(c *config.Config) { analysisPolicies(c); root = c.Storage.Filesystem.RootDirectory })
	img := wastefulImage(t)
	d, _ := img.Digest()

	ref, _ := name.ParseReference(s.host()+"/team/app:v1", name.Insecure)
	err := remote.Write(ref, img)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden || len(terr.Errors) != 1 ||
		terr.Errors[0].Code != transport.DeniedErrorCode || terr.Errors[0].Message != wastefulMessage {
		t.Fatalf("push under enforce: %v\nwant 403 DENIED %s", err, wastefulMessage)
	}
	rec := onlyRecord(t, s, "team/app", digest.Digest(d.String()))
	if rec.Status != metadata.StatusRejected || rec.Reason != wastefulMessage || rec.Analysis == nil ||
		rec.Analysis.Verdict != "enforce:block" || rec.Analysis.WastedBytes != 2_600_000 || rec.Analysis.ImageBytes != 450_000 {
		t.Fatalf("record %+v, analysis %+v", rec, rec.Analysis)
	}

	ref, _ = name.ParseReference(s.host()+"/audit/app:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push under audit: %v", err)
	}
	rec = onlyRecord(t, s, "audit/app", digest.Digest(d.String()))
	a := rec.Analysis
	if rec.Status != metadata.StatusAccepted || a == nil || a.Verdict != "audit:would-refuse" || a.PolicyName != "**" ||
		a.WastedBytes != 2_600_000 || a.ImageBytes != 450_000 || a.Efficiency != 450_000.0/2_750_000 ||
		len(a.TopWaste) != 1 || a.TopWaste[0].Path != "/var/cache/apt" || a.TopWaste[0].Bytes != 2_000_000 || a.TopWaste[0].Layer != 1 {
		t.Fatalf("record %s, analysis %+v", rec.Status, a)
	}
	if !strings.HasSuffix(a.Message, `policy "**" allows at most 1 MB (audit only: enforce would refuse it)`) {
		t.Fatalf("audit message %q", a.Message)
	}
	// Each new layer was indexed in the read that verified its diff_id
	// and kept per blob.
	ls, _ := img.Layers()
	for _, l := range ls {
		ld, _ := l.Digest()
		if _, err := os.Stat(filepath.Join(root, "imagegate", "layerindex", "sha256", ld.Hex, "v1")); err != nil {
			t.Fatalf("index of layer %s not kept: %v", ld, err)
		}
	}

	status, _, body := do(t, http.MethodGet, s.base+"/api/v1/repositories/audit/app/manifests/"+d.String()+"/layers", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("GET …/layers: %d %s", status, body)
	}
	var got struct {
		Repository string         `json:"repository"`
		Report     *layers.Report `json:"report"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Report == nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	r := got.Report
	if r.WastedBytes != 2_600_000 || r.TotalBytes != 2_750_000 || r.ImageBytes != 450_000 || r.Efficiency != 450_000.0/2_750_000 || len(r.Layers) != 3 {
		t.Fatalf("report figures: wasted %d total %d image %d efficiency %v layers %d", r.WastedBytes, r.TotalBytes, r.ImageBytes, r.Efficiency, len(r.Layers))
	}
	if l := r.Layers[1]; l.CreatedBy != "/bin/sh -c apt-get install -y tool" || l.AddedBytes != 2_050_000 || l.Files != 2 {
		t.Fatalf("layer 2: %+v", l)
	}
	if l := r.Layers[2]; l.RemovedBytes != 2_000_000 || l.Removed != 1 || l.ModifiedBytes != 300_000 {
		t.Fatalf("layer 3: %+v", l)
	}
	if i := slices.IndexFunc(r.Inefficiencies, func(in layers.Inefficiency) bool { return in.Path == "/app/data.bin" }); i < 0 ||
		r.Inefficiencies[i].WastedBytes != 600_000 || r.Inefficiencies[i].Count != 2 {
		t.Fatalf("inefficiencies %+v", r.Inefficiencies)
	}

	// Counted once each, the refusal under its own reason (mode is the
	// scan policy's: off here); the stage timed.
	metrics := scrapeMetrics(t, s)
	for _, want := range []string{
		`imagegate_push_pushes_total{door="registry",mode="off",outcome="refused",reason="waste",repository="other",verdict="not_scanned"} 1`,
		`imagegate_push_pushes_total{door="registry",mode="off",outcome="accepted",reason="none",repository="other",verdict="not_scanned"} 1`,
		`imagegate_push_stage_duration_seconds_count{stage="analyze"} 2`,
		// Three layers, each indexed in its upload's read (ingest's tap):
		// go-containerregistry uploads them again to the second repository.
		`imagegate_analysis_layers_indexed_total{read="shared"} 6`,
		`imagegate_analysis_layers_indexed_total{read="again"} 0`,
	} {
		if !strings.Contains(metrics, "\n"+want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Unknown manifests are 404s; the refused one was never stored.
	for _, path := range []string{"/api/v1/repositories/team/app/manifests/" + d.String() + "/layers",
		"/api/v1/repositories/audit/app/manifests/sha256:" + strings.Repeat("0", 64) + "/layers"} {
		if status, _, body := do(t, http.MethodGet, s.base+path, nil, nil); status != http.StatusNotFound || !slices.Contains(ociErrorCodes(t, body), "MANIFEST_UNKNOWN") {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
	}
}

// TestGateAnalysisThroughTheTarballDoor: the upload shim goes through the
// same gate: refused with the same message under enforce, nothing stored.
func TestGateAnalysisThroughTheTarballDoor(t *testing.T) {
	s := startServer(t, analysisPolicies)
	img := wastefulImage(t)
	tag, _ := name.NewTag("example.com/orig:v0")
	var buf bytes.Buffer
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	status, _, body := do(t, http.MethodPost, s.base+"/upload-image?repository=team/tarred&tag=1", nil, bytes.NewReader(buf.Bytes()))
	if status != http.StatusForbidden || !slices.Contains(ociErrorCodes(t, body), "DENIED") || !strings.Contains(string(body), jsonString(t, wastefulMessage)) {
		t.Fatalf("upload under enforce: %d %s\nwant 403 DENIED %s", status, body, wastefulMessage)
	}
	d, _ := img.Digest()
	rec := onlyRecord(t, s, "team/tarred", digest.Digest(d.String()))
	if rec.Status != metadata.StatusRejected || rec.Source != metadata.SourceTarUpload || rec.Analysis == nil || rec.Analysis.Verdict != "enforce:block" {
		t.Fatalf("record %+v", rec)
	}
	status, _, body = do(t, http.MethodPost, s.base+"/upload-image?repository=audit/tarred&tag=1", nil, bytes.NewReader(buf.Bytes()))
	if status != http.StatusCreated {
		t.Fatalf("upload under audit: %d %s", status, body)
	}
	if rec := onlyRecord(t, s, "audit/tarred", digest.Digest(d.String())); rec.Analysis == nil || rec.Analysis.Verdict != "audit:would-refuse" || rec.Analysis.WastedBytes != 2_600_000 {
		t.Fatalf("audit record %+v", rec)
	}
	// Both uploads' layers were indexed as the shim stored them: the gate
	// read none of them again.
	metrics := scrapeMetrics(t, s)
	for _, want := range []string{`imagegate_analysis_layers_indexed_total{read="shared"} 6`, `imagegate_analysis_layers_indexed_total{read="again"} 0`} {
		if !strings.Contains(metrics, "\n"+want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestGateAnalysisRefusesHostileLayers: a layer with more entries than
// analysis.maxlayerentries is a 403 naming the limit under enforce — not
// a 500 — and is recorded as unanalysable but stored under audit.
func TestGateAnalysisRefusesHostileLayers(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		analysisPolicies(c)
		c.Analysis.MaxLayerEntries, c.Analysis.MaxImageEntries = 100, 1000
	})
	files := make([]tarFile, 101)
	for i := range files {
		files[i] = tarFile{Name: fmt.Sprintf("many/f%03d", i), Size: 1}
	}
	img := imageOf(t, [][]byte{layerTar(t, files...)}, []string{"RUN touch many"})
	ref, _ := name.ParseReference(s.host()+"/team/hostile:v1", name.Insecure)
	err := remote.Write(ref, img)
	var terr *transport.Error
	ls, _ := img.Layers()
	ld, _ := ls[0].Digest()
	want := "layer 1 (" + ld.String() + `) cannot be analysed: more than 100 entries in one layer (analysis.maxlayerentries); policy "team/**" (enforce) refuses images it cannot analyse`
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden || len(terr.Errors) != 1 || terr.Errors[0].Code != transport.DeniedErrorCode ||
		terr.Errors[0].Message != want {
		t.Fatalf("hostile push under enforce: %v\nwant 403 DENIED %s", err, want)
	}
	ref, _ = name.ParseReference(s.host()+"/audit/hostile:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("hostile push under audit: %v", err)
	}
	d, _ := img.Digest()
	if rec := onlyRecord(t, s, "audit/hostile", digest.Digest(d.String())); rec.Analysis == nil || rec.Analysis.Verdict != "audit:unanalysable" || rec.Analysis.Error == "" {
		t.Fatalf("audit record analysis %+v", rec.Analysis)
	}
}

// onlyRecord is the one push record of d in repo.
func onlyRecord(t *testing.T, s *testServer, repo string, d digest.Digest) *metadata.Record {
	t.Helper()
	page, err := s.store.List(t.Context(), metadata.Query{Repository: repo, Digest: d})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("records of %s@%s: %+v (%v), want one", repo, d, page.Records, err)
	}
	return page.Records[0]
}

// jsonString is s as it appears inside a JSON string.
func jsonString(t *testing.T, s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(string(b), `"`)
}
