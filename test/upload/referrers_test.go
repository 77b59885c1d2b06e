package upload

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestUploadedReferrerIsIndexed: an artifact uploaded in a tarball next to
// its subject is found through the referrers API, as after a push on /v2/.
func TestUploadedReferrerIsIndexed(t *testing.T) {
	s := start(t, nil)
	img := ociImage(t, 2048, 1, "linux/amd64")
	imgDesc, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	sig, ok := mutate.Subject(ociImage(t, 512, 1, "linux/amd64"), *imgDesc).(v1.Image)
	if !ok {
		t.Fatal("mutate.Subject of an image is not an image")
	}
	idx := mutate.AppendManifests(emptyIndex,
		mutate.IndexAddendum{Add: img, Descriptor: withRefName("team/signed:v1").Descriptor},
		mutate.IndexAddendum{Add: sig, Descriptor: withRefName("team/signed:v1-sig").Descriptor})
	s.mustUpload(t, "", ociLayoutTar(t, idx))

	imgDigest, _ := img.Digest()
	sigDigest, _ := sig.Digest()
	subject, err := name.NewDigest(s.host+"/team/signed@"+imgDigest.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := remote.Referrers(subject)
	if err != nil {
		t.Fatalf("referrers: %v", err)
	}
	m, err := refs.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Digest != sigDigest {
		t.Fatalf("referrers of the uploaded image: %+v, want only %s", m.Manifests, sigDigest)
	}
}
