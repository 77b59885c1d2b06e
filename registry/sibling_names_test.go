package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/s3test"
)

// siblingRepos are repositories whose names are prefixes of each other
// followed by a byte that sorts before '/' ('-', '.') or after it ('_',
// '0'); siblingTags the same for tags. A deletion or a listing that
// matches a path by a bare prefix (without its trailing '/') reaches the
// siblings; on S3 the siblings are also listed before "…/a/" (key order).
var (
	siblingRepos = []string{"sib/a", "sib/a-b", "sib/a.b", "sib/a_b", "sib/a0"}
	siblingTags  = []string{"v1", "v1-rc", "v1.0", "v10", "v1_x"}
)

// TestDeletingLeavesSiblingNames: deleting tag "v1" of "sib/a" (DELETE
// /v2/…/manifests/v1) keeps "v1-rc", "v1.0", "v10" and "v1_x"; deleting a
// manifest of "sib/a" by digest (which untags it) keeps the same manifest,
// its tags and its referrers in "sib/a-b", "sib/a.b", "sib/a_b" and
// "sib/a0"; on both drivers, answering the same.
func TestDeletingLeavesSiblingNames(t *testing.T) {
	onEveryDriver(t, "imagegate-siblings-", nil, func(t *testing.T, s *testServer) {
		img, _ := random.Image(64, 1)
		other, _ := random.Image(64, 1)
		dgst := mustDigest(t, img)
		for _, repo := range siblingRepos {
			pushTagged(t, s, repo, img, siblingTags[1:]...)
			pushTagged(t, s, repo, other, siblingTags[0])
			pushReferrer(t, s, repo, img)
		}

		if status, _, body := do(t, http.MethodDelete, s.base+"/v2/sib/a/manifests/v1", nil, nil); status != http.StatusAccepted {
			t.Fatalf("DELETE tag v1: %d %s", status, body)
		}
		if got := tagsOf(t, s, "sib/a"); !slices.Equal(got, siblingTags[1:]) {
			t.Errorf("after deleting v1, sib/a has tags %q; want %q", got, siblingTags[1:])
		}
		if status, _, body := do(t, http.MethodDelete, s.base+"/v2/sib/a/manifests/"+dgst, nil, nil); status != http.StatusAccepted {
			t.Fatalf("DELETE manifest %s: %d %s", dgst, status, body)
		}
		if status, _, _ := do(t, http.MethodHead, s.base+"/v2/sib/a/manifests/"+dgst, manifestAccept, nil); status != http.StatusNotFound {
			t.Errorf("sib/a still has the deleted manifest: HEAD %d", status)
		}
		for _, repo := range siblingRepos[1:] {
			if got := tagsOf(t, s, repo); !slices.Equal(got, siblingTags) {
				t.Errorf("%s has tags %q after deletions in sib/a; want %q", repo, got, siblingTags)
			}
			for _, ref := range append([]string{dgst}, siblingTags...) {
				if status, _, _ := do(t, http.MethodHead, s.base+"/v2/"+repo+"/manifests/"+ref, manifestAccept, nil); status != http.StatusOK {
					t.Errorf("HEAD %s:%s after deletions in sib/a: %d", repo, ref, status)
				}
			}
			if n := referrersOf(t, s, repo, dgst); n != 1 {
				t.Errorf("%s lists %d referrers of %s after deletions in sib/a; want 1", repo, n, dgst)
			}
		}
	})
}

// startServerOn runs a server on driver: "filesystem", or "s3" (a fresh
// bucket named bucketPrefix plus a random suffix); mutate adjusts the
// configuration first.
func startServerOn(t *testing.T, driver, bucketPrefix string, mutate func(*config.Config)) *testServer {
	t.Helper()
	if driver != "s3" {
		return startServer(t, mutate)
	}
	_, bucket, endpoint := s3test.Bucket(t, bucketPrefix)
	return startServer(t, func(c *config.Config) {
		s3test.Configure(c, endpoint, bucket)
		if mutate != nil {
			mutate(c)
		}
	})
}

// onEveryDriver runs test as a subtest against a server on each driver
// (startServerOn).
func onEveryDriver(t *testing.T, bucketPrefix string, mutate func(*config.Config), test func(t *testing.T, s *testServer)) {
	for _, driver := range []string{"filesystem", "s3"} {
		t.Run(driver, func(t *testing.T) { test(t, startServerOn(t, driver, bucketPrefix, mutate)) })
	}
}

// manifestAccept accepts the OCI manifest types random images are.
var manifestAccept = http.Header{"Accept": {"application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"}}

// pushTagged pushes img to repo under tags (the first by remote.Write,
// the others by PUT …/manifests/<digest>?tag=…).
func pushTagged(t *testing.T, s *testServer, repo string, img ggcrv1.Image, tags ...string) {
	t.Helper()
	ref, _ := name.ParseReference(s.host()+"/"+repo+":"+tags[0], name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	if len(tags) == 1 {
		return
	}
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	q := url.Values{"tag": tags[1:]}
	status, _, body := do(t, http.MethodPut, s.base+"/v2/"+repo+"/manifests/"+mustDigest(t, img)+"?"+q.Encode(),
		http.Header{"Content-Type": {string(mt)}}, bytes.NewReader(raw))
	if status != http.StatusCreated {
		t.Fatalf("tagging %s with %q: %d %s", repo, tags[1:], status, body)
	}
}

// pushReferrer pushes to repo a signature whose subject is img.
func pushReferrer(t *testing.T, s *testServer, repo string, img ggcrv1.Image) {
	t.Helper()
	desc, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	ociPushByDigest(t, s.host()+"/"+repo, ociArtifact(t, "application/vnd.dev.cosign.artifact.sig.v1+json", "sig of "+repo, *desc))
}

// referrersOf counts the referrers of subject in repo.
func referrersOf(t *testing.T, s *testServer, repo, subject string) int {
	t.Helper()
	ref, err := name.NewDigest(s.host()+"/"+repo+"@"+subject, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return len(ociReferrerTypes(t, ref))
}

// tagsOf lists repo's tags with one GET /v2/…/tags/list.
func tagsOf(t *testing.T, s *testServer, repo string) []string {
	t.Helper()
	status, _, body := do(t, http.MethodGet, s.base+"/v2/"+repo+"/tags/list", nil, nil)
	var list struct{ Tags []string }
	if status != http.StatusOK || json.Unmarshal(body, &list) != nil {
		t.Fatalf("tags of %s: %d %s", repo, status, body)
	}
	return list.Tags
}
