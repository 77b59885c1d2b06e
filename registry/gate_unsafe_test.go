package registry

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
)

const unsafeMessage = `layer 2 holds 1 entry whose name leaves the image's root ("..") or holds a NUL byte: ` +
	`a tool that extracts it without rooting names would write outside its directory; build the layer from relative paths ` +
	`(analysis.allowunsafepaths lets such layers through)`

// TestGateRefusesTarSlipLayers reproduces a tar-slip push: a layer with
// an entry named "../../etc/passwd". Under the default configuration
// (audit, no thresholds) both doors refuse it with 403 DENIED naming the
// layer, record it rejected, store no tag and count it under
// reason="unsafe_paths" (not "waste"); analysis.allowunsafepaths lets it
// through.
func TestGateRefusesTarSlipLayers(t *testing.T) {
	img := imageOf(t, [][]byte{
		layerTar(t, tarFile{"etc/passwd", 100}),
		layerTar(t, tarFile{"../../etc/passwd", 100}),
	}, []string{"ADD base.tar /", "ADD evil.tar /"})
	d, _ := img.Digest()
	s := startServer(t, func(*config.Config) {})

	ref, _ := name.ParseReference(s.host()+"/team/slip:v1", name.Insecure)
	err := remote.Write(ref, img)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden || len(terr.Errors) != 1 ||
		terr.Errors[0].Code != transport.DeniedErrorCode || terr.Errors[0].Message != unsafeMessage {
		t.Fatalf("registry door: %v\nwant 403 DENIED %s", err, unsafeMessage)
	}
	if rec := onlyRecord(t, s, "team/slip", digest.Digest(d.String())); rec.Status != metadata.StatusRejected ||
		rec.Analysis == nil || rec.Analysis.Verdict != "audit:block" {
		t.Fatalf("registry door record %+v", rec)
	}
	if _, err := remote.Head(ref); err == nil {
		t.Fatal("the refused tag resolves")
	}

	var buf bytes.Buffer
	tag, _ := name.NewTag("example.com/slip:v0")
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	status, _, body := do(t, http.MethodPost, s.base+"/upload-image?repository=team/slip-tar&tag=1", nil, bytes.NewReader(buf.Bytes()))
	if status != http.StatusForbidden || !slices.Contains(ociErrorCodes(t, body), "DENIED") || !strings.Contains(string(body), jsonString(t, unsafeMessage)) {
		t.Fatalf("tarball door: %d %s\nwant 403 DENIED %s", status, body, unsafeMessage)
	}

	// Counted under their own reason, by both doors — not as waste.
	metrics := scrapeMetrics(t, s)
	for _, want := range []string{
		`imagegate_push_pushes_total{door="registry",mode="off",outcome="refused",reason="unsafe_paths",repository="other",verdict="not_scanned"} 1`,
		`imagegate_push_pushes_total{door="upload",mode="off",outcome="refused",reason="unsafe_paths",repository="other",verdict="not_scanned"} 1`,
	} {
		if !strings.Contains(metrics, "\n"+want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `reason="waste"`) {
		t.Errorf("a tar-slip refusal is counted as waste")
	}

	allowing := startServer(t, func(c *config.Config) { c.Analysis.AllowUnsafePaths = true })
	ref, _ = name.ParseReference(allowing.host()+"/team/slip:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("with analysis.allowunsafepaths: %v", err)
	}
}
