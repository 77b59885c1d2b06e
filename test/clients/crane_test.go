package clients

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// newCrane returns crane with a private DOCKER_CONFIG, where `crane auth
// login` keeps its credentials. --insecure: the registry is plain HTTP.
func newCrane(t *testing.T, bin, who string) (cli, string) {
	t.Helper()
	home := t.TempDir()
	dockerConfig := filepath.Join(home, ".docker")
	return cli{
		name: "crane (" + who + ")",
		bin:  bin,
		pre:  []string{"--insecure"},
		env:  []string{"HOME=" + home, "DOCKER_CONFIG=" + dockerConfig},
	}, dockerConfig
}

// craneLogin returns a crane on which `crane auth login addr -u user
// --password-stdin` has run with password, and its DOCKER_CONFIG.
func craneLogin(t *testing.T, bin, addr, user, password string) (cli, string) {
	t.Helper()
	c, dir := newCrane(t, bin, user)
	if _, err := c.run(t.Context(), password, "auth", "login", addr, "-u", user, "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	return c, dir
}

// TestCrane drives crane through the token flow: push, copy, digest, pull,
// delete and catalog, each allowed or refused by the user's roles, and
// go-containerregistry's default keychain reading the login crane stored.
func TestCrane(t *testing.T) {
	bin := liveserver.RequireBinary(t, envCraneBin)
	srv := startAuthServer(t)
	img, tarPath := testImage(t, 2)
	repo := srv.Addr + "/team/crane"

	// The digest crane push must report: that of the image it reads.
	fromTar, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := mustDigest(t, fromTar)

	anon, _ := newCrane(t, bin, "anonymous")
	anon.mustRefuse(t, "push without login", "push", tarPath, repo+":v1")
	wrong, _ := craneLogin(t, bin, srv.Addr, "alice", "not-alice-password")
	wrong.mustRefuse(t, "push with a wrong password", "push", tarPath, repo+":v1")

	// alice (developer): push, copy, digest, a catalog of what she may
	// pull; no delete.
	alice, aliceConfig := craneLogin(t, bin, srv.Addr, "alice", users["alice"])
	out := alice.must(t, "push", tarPath, repo+":v1")
	if wantRef := repo + "@" + want; out != wantRef {
		t.Fatalf("crane push printed %q, want %q", out, wantRef)
	}
	alice.must(t, "copy", repo+":v1", repo+":copy")
	for _, tag := range []string{"v1", "copy"} {
		if got := alice.must(t, "digest", repo+":"+tag); got != want {
			t.Errorf("crane digest %s:%s = %s, want %s", repo, tag, got, want)
		}
	}
	// go-containerregistry's authn: the default keychain finds the login
	// crane wrote and runs the token flow with it.
	t.Setenv("DOCKER_CONFIG", aliceConfig)
	if got, err := head(t, repo+":copy", remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil || got != want {
		t.Errorf("HEAD %s:copy with authn.DefaultKeychain = %q, %v; want %s", repo, got, err, want)
	}
	if cat := strings.Fields(alice.must(t, "catalog", srv.Addr)); !slices.Equal(cat, []string{"team/crane"}) {
		t.Errorf("alice's catalog = %v, want only what she may pull", cat)
	}
	alice.mustRefuse(t, "delete (developer may not)", "delete", repo+"@"+want)
	alice.mustRefuse(t, "push outside team/", "push", tarPath, srv.Addr+"/other/crane:v1")

	// bob (reader): pull, digest, catalog; no push, copy into team/ or delete.
	bob, _ := craneLogin(t, bin, srv.Addr, "bob", users["bob"])
	if got := bob.must(t, "digest", repo+":v1"); got != want {
		t.Errorf("bob: crane digest = %s, want %s", got, want)
	}
	pulled := filepath.Join(t.TempDir(), "oci")
	bob.must(t, "pull", "--format", "oci", repo+":v1", pulled)
	assertLayout(t, pulled, want, configDigest(t, img), diffIDs(t, img))
	bob.mustRefuse(t, "push", "push", tarPath, repo+":bob")
	bob.mustRefuse(t, "copy into team/", "copy", repo+":v1", repo+":bob")
	bob.mustRefuse(t, "delete", "delete", repo+":copy")
	if cat := strings.Fields(bob.must(t, "catalog", srv.Addr)); !slices.Equal(cat, []string{"team/crane"}) {
		t.Errorf("bob's catalog = %v, want only what he may pull", cat)
	}

	// root (admin): catalog and delete.
	root, _ := craneLogin(t, bin, srv.Addr, "root", users["root"])
	if cat := strings.Fields(root.must(t, "catalog", srv.Addr)); !slices.Contains(cat, "team/crane") {
		t.Errorf("root: crane catalog = %q, want team/crane in it", cat)
	}
	root.must(t, "delete", repo+"@"+want)
	for _, tag := range []string{"v1", "copy"} {
		if d, err := headAs(t, repo+":"+tag, "root"); err == nil {
			t.Errorf("after crane delete of %s, %s:%s still resolves to %s", want, repo, tag, d)
		}
	}

	// Logout forgets the login.
	alice.must(t, "auth", "logout", srv.Addr)
	alice.mustRefuse(t, "digest after logout", "digest", repo+":v1")
}

// assertLayout checks an OCI layout written by `crane pull --format oci`:
// one manifest, of digest want, whose image has the given config digest and
// diff IDs.
func assertLayout(t *testing.T, dir, want, wantConfig string, wantDiffIDs []string) {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("read pulled layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != want {
		t.Fatalf("pulled layout lists %+v, want one manifest %s", im.Manifests, want)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustDigest(t, img); got != want {
		t.Errorf("pulled manifest hashes to %s, want %s", got, want)
	}
	if got := configDigest(t, img); got != wantConfig {
		t.Errorf("pulled config digest %s, want %s", got, wantConfig)
	}
	if got := diffIDs(t, img); !slices.Equal(got, wantDiffIDs) {
		t.Errorf("pulled diff IDs %q, want %q", got, wantDiffIDs)
	}
}
