package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/config"
)

// ociArtifact is an OCI artifact of artifactType (its config media type)
// with one layer, attached to subject — what cosign, notation or oras
// push for a signature or an SBOM.
func ociArtifact(t *testing.T, artifactType, content string, subject ggcrv1.Descriptor) ggcrv1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType(artifactType))
	img, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer([]byte(content), types.MediaType(artifactType))})
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Subject(img, subject).(ggcrv1.Image)
}

func ociPushByDigest(t *testing.T, repo string, img ggcrv1.Image) name.Digest {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest(repo+"@"+d.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}

func ociReferrerTypes(t *testing.T, subject name.Digest, opts ...remote.Option) map[string]string {
	t.Helper()
	idx, err := remote.Referrers(subject, opts...)
	if err != nil {
		t.Fatalf("referrers of %s: %v", subject, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range m.Manifests {
		out[d.Digest.String()] = d.ArtifactType
	}
	return out
}

// TestReferrersWithGoContainerRegistry attaches a signature and an SBOM to
// an image with go-containerregistry, as cosign and oras do, finds them
// through the referrers API, filters them, deletes one, and attaches to an
// image that is not pushed yet.
func TestReferrersWithGoContainerRegistry(t *testing.T) {
	s := startServer(t, nil)
	repo := s.host() + "/team/app"
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	subject := ociPushByDigest(t, repo, img)
	subjectDesc, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}

	if got := ociReferrerTypes(t, subject); len(got) != 0 {
		t.Fatalf("referrers before any: %v", got)
	}
	const sigType, sbomType = "application/vnd.dev.cosign.artifact.sig.v1+json", "application/spdx+json"
	sig := ociPushByDigest(t, repo, ociArtifact(t, sigType, "signature", *subjectDesc))
	sbom := ociPushByDigest(t, repo, ociArtifact(t, sbomType, `{"spdxVersion":"SPDX-2.3"}`, *subjectDesc))

	got := ociReferrerTypes(t, subject)
	if len(got) != 2 || got[sig.DigestStr()] != sigType || got[sbom.DigestStr()] != sbomType {
		t.Fatalf("referrers = %v, want the signature and the SBOM with their artifact types", got)
	}
	if got := ociReferrerTypes(t, subject, remote.WithFilter("artifactType", sbomType)); len(got) != 1 || got[sbom.DigestStr()] != sbomType {
		t.Fatalf("referrers filtered to %s = %v", sbomType, got)
	}
	status, hdr, _ := do(t, http.MethodGet, s.base+"/v2/team/app/referrers/"+subject.DigestStr()+"?artifactType="+url.QueryEscape(sbomType), nil, nil)
	if status != http.StatusOK || hdr.Get("OCI-Filters-Applied") != "artifactType" || hdr.Get("Content-Type") != v1.MediaTypeImageIndex {
		t.Fatalf("filtered referrers: %d %v", status, hdr)
	}

	if err := remote.Delete(sig); err != nil {
		t.Fatalf("delete signature: %v", err)
	}
	if got := ociReferrerTypes(t, subject); len(got) != 1 || got[sbom.DigestStr()] == "" {
		t.Fatalf("referrers after deleting the signature = %v", got)
	}

	// An artifact may be pushed before its subject.
	later, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	laterDesc, err := partial.Descriptor(later)
	if err != nil {
		t.Fatal(err)
	}
	early := ociPushByDigest(t, repo, ociArtifact(t, sigType, "early signature", *laterDesc))
	laterRef, err := name.NewDigest(repo+"@"+laterDesc.Digest.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if got := ociReferrerTypes(t, laterRef); len(got) != 1 || got[early.DigestStr()] != sigType {
		t.Fatalf("referrers of a subject not pushed yet = %v", got)
	}
}

// TestManifestPushAnswersSubject checks the OCI-Subject header of a push
// of a manifest with a subject.
func TestManifestPushAnswersSubject(t *testing.T) {
	s := startServer(t, nil)
	subject := ggcrv1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: ggcrv1.Hash{Algorithm: "sha256",
		Hex: strings.Repeat("ab", 32)}, Size: 100}
	img := ociArtifact(t, "application/x.test", "x", subject)
	// Blobs first, through go-containerregistry; then the manifest by hand.
	for _, l := range ociMustLayers(t, img) {
		if err := remote.WriteLayer(ociMustRepo(t, s.host()+"/sub/app"), l); err != nil {
			t.Fatal(err)
		}
	}
	cfg, _ := img.RawConfigFile()
	ociPushBlob(t, s, "sub/app", cfg)
	raw, _ := img.RawManifest()
	d, _ := img.Digest()
	status, hdr, body := do(t, http.MethodPut, s.base+"/v2/sub/app/manifests/"+d.String(),
		http.Header{"Content-Type": {string(types.OCIManifestSchema1)}}, bytes.NewReader(raw))
	if status != http.StatusCreated || hdr.Get("OCI-Subject") != subject.Digest.String() {
		t.Fatalf("push: %d OCI-Subject=%q %s", status, hdr.Get("OCI-Subject"), body)
	}
}

func ociMustLayers(t *testing.T, img ggcrv1.Image) []ggcrv1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func ociMustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ociPushBlob uploads content to repo (POST then PUT) under its sha256 digest.
func ociPushBlob(t *testing.T, s *testServer, repo string, content []byte) {
	t.Helper()
	ociUploadBlobAs(t, s, repo, content, digest.FromBytes(content))
}

// ociUploadBlobAs uploads content to repo as dgst and checks the answer echoes dgst.
func ociUploadBlobAs(t *testing.T, s *testServer, repo string, content []byte, dgst digest.Digest) {
	t.Helper()
	status, hdr, body := do(t, http.MethodPost, s.base+"/v2/"+repo+"/blobs/uploads/", nil, nil)
	if status != http.StatusAccepted {
		t.Fatalf("open upload: %d %s", status, body)
	}
	loc, err := url.Parse(hdr.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	q.Set("digest", dgst.String())
	loc.RawQuery = q.Encode()
	status, hdr, body = do(t, http.MethodPut, s.base+loc.RequestURI(), http.Header{"Content-Type": {"application/octet-stream"}}, bytes.NewReader(content))
	if status != http.StatusCreated || hdr.Get("Docker-Content-Digest") != dgst.String() || !strings.HasSuffix(hdr.Get("Location"), dgst.String()) {
		t.Fatalf("finish upload as %s: %d %v %s", dgst, status, hdr, body)
	}
}

// ociGetBlob checks GET and HEAD of blob dgst in repo answer content and dgst.
func ociGetBlob(t *testing.T, s *testServer, repo string, dgst digest.Digest, content []byte) {
	t.Helper()
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		status, hdr, body := do(t, method, s.base+"/v2/"+repo+"/blobs/"+dgst.String(), nil, nil)
		if status != http.StatusOK || hdr.Get("Docker-Content-Digest") != dgst.String() {
			t.Fatalf("%s %s/%s: %d %v", method, repo, dgst, status, hdr)
		}
		if method == http.MethodGet && !bytes.Equal(body, content) {
			t.Fatalf("GET %s/%s: content differs", repo, dgst)
		}
	}
}

// TestSHA512RoundTrips pushes and pulls blobs and a manifest addressed by
// sha512 digests: upload, content in the POST, mount from a repository and
// without one, HEAD, GET, tag parameters, pull by tag, delete.
func TestSHA512RoundTrips(t *testing.T) {
	s := startServer(t, nil)
	layer := []byte("a layer addressed by sha512")
	layer512 := digest.SHA512.FromBytes(layer)
	ociUploadBlobAs(t, s, "big/one", layer, layer512)
	ociGetBlob(t, s, "big/one", layer512, layer)

	// Content in the POST that opens the upload.
	other := []byte("posted in one request")
	other512 := digest.SHA512.FromBytes(other)
	status, hdr, body := do(t, http.MethodPost, s.base+"/v2/big/two/blobs/uploads/?digest="+url.QueryEscape(other512.String()),
		http.Header{"Content-Type": {"application/octet-stream"}}, bytes.NewReader(other))
	if status != http.StatusCreated || hdr.Get("Docker-Content-Digest") != other512.String() {
		t.Fatalf("POST with content: %d %v %s", status, hdr, body)
	}
	ociGetBlob(t, s, "big/two", other512, other)

	// Mounts, from a repository and from none.
	for _, q := range []string{"mount=" + url.QueryEscape(layer512.String()) + "&from=big/one", "mount=" + url.QueryEscape(layer512.String())} {
		target := "big/mounted-" + fmt.Sprint(len(q))
		status, hdr, body = do(t, http.MethodPost, s.base+"/v2/"+target+"/blobs/uploads/?"+q, nil, nil)
		if status != http.StatusCreated || hdr.Get("Docker-Content-Digest") != layer512.String() {
			t.Fatalf("mount %s: %d %v %s", q, status, hdr, body)
		}
		ociGetBlob(t, s, target, layer512, layer)
	}

	// A manifest referencing the sha512 layer, pushed by its sha512 digest with a tag.
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(layer).String() + `"]}}`)
	ociPushBlob(t, s, "big/one", config)
	manifest, _ := json.Marshal(v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest,
		Config: v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(config), Size: int64(len(config))},
		Layers: []v1.Descriptor{{MediaType: v1.MediaTypeImageLayer, Digest: layer512, Size: int64(len(layer))}},
	})
	man512 := digest.SHA512.FromBytes(manifest)
	ct := http.Header{"Content-Type": {v1.MediaTypeImageManifest}}

	wrong := digest.SHA512.FromString("something else")
	status, _, body = do(t, http.MethodPut, s.base+"/v2/big/one/manifests/"+wrong.String(), ct, bytes.NewReader(manifest))
	if status != http.StatusBadRequest || ociErrorCodes(t, body)[0] != "DIGEST_INVALID" {
		t.Fatalf("push under a wrong sha512: %d %s", status, body)
	}
	status, hdr, body = do(t, http.MethodPut, s.base+"/v2/big/one/manifests/"+man512.String()+"?tag=v1", ct, bytes.NewReader(manifest))
	if status != http.StatusCreated || hdr.Get("Docker-Content-Digest") != man512.String() || hdr.Get("OCI-Tag") != "v1" {
		t.Fatalf("push by sha512 with ?tag=v1: %d %v %s", status, hdr, body)
	}
	for _, ref := range []string{man512.String(), "v1"} {
		for _, method := range []string{http.MethodHead, http.MethodGet} {
			status, hdr, body = do(t, method, s.base+"/v2/big/one/manifests/"+ref, http.Header{"Accept": {v1.MediaTypeImageManifest}}, nil)
			if status != http.StatusOK || hdr.Get("Docker-Content-Digest") != man512.String() {
				t.Fatalf("%s manifest %s: %d %v", method, ref, status, hdr)
			}
			if method == http.MethodGet && !bytes.Equal(body, manifest) {
				t.Fatalf("GET manifest %s: content differs", ref)
			}
		}
	}
	status, _, body = do(t, http.MethodDelete, s.base+"/v2/big/one/manifests/"+man512.String(), nil, nil)
	if status != http.StatusAccepted {
		t.Fatalf("delete by sha512: %d %s", status, body)
	}
	for _, ref := range []string{man512.String(), "v1"} {
		if status, _, _ = do(t, http.MethodGet, s.base+"/v2/big/one/manifests/"+ref, nil, nil); status != http.StatusNotFound {
			t.Errorf("GET %s after delete: %d, want 404", ref, status)
		}
	}
}

// TestOCIUnderAuth: referrers are read like manifests (pull), and a mount
// that names no source repository is honoured for administrators only —
// anyone else uploads the blob.
func TestOCIUnderAuth(t *testing.T) {
	s := startAuthServer(t)
	repo := s.host() + "/team/app"
	img, _ := random.Image(512, 1)
	ref, _ := name.NewTag(repo+":v1", name.Insecure)
	if err := remote.Write(ref, img, as("alice")); err != nil {
		t.Fatal(err)
	}
	desc, _ := partial.Descriptor(img)
	sig := ociArtifact(t, "application/x.sig", "sig", *desc)
	sigDigest, _ := sig.Digest()
	sigRef, _ := name.NewDigest(repo+"@"+sigDigest.String(), name.Insecure)
	if err := remote.Write(sigRef, sig, as("alice")); err != nil {
		t.Fatal(err)
	}
	subject, _ := name.NewDigest(repo+"@"+desc.Digest.String(), name.Insecure)

	status, hdr, _ := do(t, http.MethodGet, s.base+"/v2/team/app/referrers/"+desc.Digest.String(), nil, nil)
	if status != http.StatusUnauthorized || !strings.Contains(hdr.Get("WWW-Authenticate"), "repository:team/app:pull") {
		t.Fatalf("anonymous referrers: %d %v, want 401 with a pull challenge", status, hdr)
	}
	if got := ociReferrerTypes(t, subject, as("bob")); len(got) != 1 || got[sigDigest.String()] != "application/x.sig" {
		t.Fatalf("bob (reader) referrers = %v", got)
	}

	layers, _ := img.Layers()
	layerDigest, _ := layers[0].Digest()
	mount := "/blobs/uploads/?mount=" + url.QueryEscape(layerDigest.String())
	for user, want := range map[string]int{"alice": http.StatusAccepted, "root": http.StatusCreated} {
		target := "team/" + user + "-copy"
		tok := token(t, s, user, "repository:"+target+":pull,push")
		status, _, body := do(t, http.MethodPost, s.base+"/v2/"+target+mount, http.Header{"Authorization": {"Bearer " + tok}}, nil)
		if status != want {
			t.Errorf("%s: anonymous mount answered %d, want %d: %s", user, status, want, body)
		}
	}

	// sha512 content in a repository alice may not read: root puts it there
	// (content in the POST); alice can neither mount it from there nor read
	// it, and bob (reader) cannot push a manifest by sha512 digest.
	secret := []byte("content alice may not read")
	secret512 := digest.SHA512.FromBytes(secret)
	rootTok := token(t, s, "root", "repository:other/secret:pull,push")
	status, _, body := do(t, http.MethodPost, s.base+"/v2/other/secret/blobs/uploads/?digest="+url.QueryEscape(secret512.String()),
		http.Header{"Authorization": {"Bearer " + rootTok}, "Content-Type": {"application/octet-stream"}}, bytes.NewReader(secret))
	if status != http.StatusCreated {
		t.Fatalf("root: POST with content as sha512: %d %s", status, body)
	}
	aliceTok := http.Header{"Authorization": {"Bearer " + token(t, s, "alice", "repository:team/app:pull,push")}}
	status, _, body = do(t, http.MethodPost, s.base+"/v2/team/app/blobs/uploads/?from=other/secret&mount="+url.QueryEscape(secret512.String()), aliceTok, nil)
	if status == http.StatusCreated {
		t.Errorf("alice mounted sha512 content from a repository she may not read: %s", body)
	}
	if status, _, _ := do(t, http.MethodGet, s.base+"/v2/team/app/blobs/"+secret512.String(), aliceTok, nil); status != http.StatusNotFound {
		t.Errorf("alice: GET of the unmounted sha512 blob in team/app answered %d, want 404", status)
	}
	if status, _, body := do(t, http.MethodGet, s.base+"/v2/other/secret/blobs/"+secret512.String(), aliceTok, nil); status != http.StatusForbidden ||
		!strings.Contains(string(body), `"DENIED"`) || !strings.Contains(string(body), "other/secret") {
		t.Errorf("alice: GET of the sha512 blob in other/secret answered %d %s, want 403 DENIED naming other/secret", status, body)
	}
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
	bobTok := token(t, s, "bob", "repository:team/app:pull,push")
	status, _, body = do(t, http.MethodPut, s.base+"/v2/team/app/manifests/"+digest.SHA512.FromBytes(manifest).String()+"?tag=bob",
		http.Header{"Authorization": {"Bearer " + bobTok}, "Content-Type": {"application/vnd.oci.image.manifest.v1+json"}}, bytes.NewReader(manifest))
	if status != http.StatusForbidden || !strings.Contains(string(body), "bob may pull but not push to team/app") {
		t.Errorf("bob (reader): manifest PUT by sha512 answered %d, want 403 naming bob and push: %s", status, body)
	}
}

// TestForeignLayers: with validation.foreignlayers a non-distributable
// layer with an http(s) URL is accepted without being uploaded; any other
// URL is an invalid manifest (distribution alone would answer 500).
func TestForeignLayers(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Validation.ForeignLayers = true })
	cfgBlob := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromString("tar").String() + `"]}}`)
	ociPushBlob(t, s, "win/app", cfgBlob)
	push := func(url string) (int, []byte) {
		m, _ := json.Marshal(v1.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest,
			Config: v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(cfgBlob), Size: int64(len(cfgBlob))},
			Layers: []v1.Descriptor{{MediaType: v1.MediaTypeImageLayerNonDistributableGzip, //nolint:staticcheck // deprecated, still pushed
				Digest: digest.FromString("foreign " + url), Size: 1234, URLs: []string{url}}},
		})
		status, _, body := do(t, http.MethodPut, s.base+"/v2/win/app/manifests/"+digest.FromBytes(m).String(),
			http.Header{"Content-Type": {v1.MediaTypeImageManifest}}, bytes.NewReader(m))
		return status, body
	}
	if status, body := push("https://mcr.example.com/layer.tar.gz"); status != http.StatusCreated {
		t.Fatalf("foreign layer with an https URL: %d %s", status, body)
	}
	for _, bad := range []string{"ftp://example.com/layer", "https://example.com/layer#frag", "not a url"} {
		if status, body := push(bad); status != http.StatusBadRequest || ociErrorCodes(t, body)[0] != "MANIFEST_INVALID" {
			t.Errorf("foreign layer with url %q: %d %s, want 400 MANIFEST_INVALID", bad, status, body)
		}
	}
}

// TestManifestWithBadSubjectDigest: a manifest whose subject digest is no
// digest is refused as MANIFEST_INVALID (400), not stored and answered
// 500 by the referrers index.
func TestManifestWithBadSubjectDigest(t *testing.T) {
	s := startServer(t, nil)
	cfg := []byte(`{}`)
	ociPushBlob(t, s, "sub/bad", cfg)
	for _, subject := range []string{"sha256:not-hex", "md5:d41d8cd98f00b204e9800998ecf8427e", "nonsense"} {
		raw := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
			`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + digest.FromBytes(cfg).String() + `","size":2},` +
			`"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + subject + `","size":10}}`)
		status, _, body := do(t, http.MethodPut, s.base+"/v2/sub/bad/manifests/"+digest.FromBytes(raw).String(),
			http.Header{"Content-Type": {"application/vnd.oci.image.manifest.v1+json"}}, bytes.NewReader(raw))
		if status != http.StatusBadRequest || ociErrorCodes(t, body)[0] != "MANIFEST_INVALID" {
			t.Errorf("subject %q: %d %s, want 400 MANIFEST_INVALID", subject, status, body)
		}
		if status, _, _ := do(t, http.MethodGet, s.base+"/v2/sub/bad/manifests/"+digest.FromBytes(raw).String(), nil, nil); status != http.StatusNotFound {
			t.Errorf("subject %q: the refused manifest answers %d, want 404", subject, status)
		}
	}
}
