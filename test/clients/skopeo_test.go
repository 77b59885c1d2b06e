package clients

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// newSkopeo returns skopeo with a private auth file, home and signature
// policy (accept anything: the test checks digests itself).
func newSkopeo(t *testing.T, bin, who string) cli {
	t.Helper()
	home := t.TempDir()
	policy := filepath.Join(home, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return cli{
		name: "skopeo (" + who + ")",
		bin:  bin,
		pre:  []string{"--policy", policy},
		env: []string{
			"HOME=" + home,
			"REGISTRY_AUTH_FILE=" + filepath.Join(home, "auth.json"),
			"XDG_RUNTIME_DIR=" + filepath.Join(home, "run"),
			"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
			"DOCKER_CONFIG=" + filepath.Join(home, "docker"), // no fallback to ~/.docker
		},
	}
}

// skopeoLogin returns a skopeo on which `skopeo login` as user succeeded.
func skopeoLogin(t *testing.T, bin, addr, user string) cli {
	t.Helper()
	s := newSkopeo(t, bin, user)
	out, err := s.run(t.Context(), users[user], "login", "--tls-verify=false", "-u", user, "--password-stdin", addr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("%s: login printed %q, want Login Succeeded", s.name, out)
	}
	return s
}

// skopeoInspect is the part of `skopeo inspect` the tests read.
type skopeoInspect struct {
	Digest string   `json:"Digest"`
	Layers []string `json:"Layers"`
}

func (c cli) inspect(t *testing.T, ref string) skopeoInspect {
	t.Helper()
	out := c.must(t, "inspect", "--tls-verify=false", "docker://"+ref)
	var si skopeoInspect
	if err := json.Unmarshal([]byte(out), &si); err != nil {
		t.Fatalf("decode skopeo inspect %s: %v\n%s", ref, err, out)
	}
	return si
}

// TestSkopeo drives skopeo through the token flow: login (a wrong password
// refused), copy of a docker-archive to the registry and back to a dir:,
// inspect, and a reader's push refused, with skopeo, go-containerregistry and
// the copied files agreeing on the digests.
func TestSkopeo(t *testing.T) {
	bin := liveserver.RequireBinary(t, envSkopeoBin)
	srv := startAuthServer(t)
	img, tarPath := testImage(t, 2)
	ref := srv.Addr + "/team/skopeo:v1"

	wrong := newSkopeo(t, bin, "alice, wrong password")
	if _, err := wrong.run(t.Context(), "not-alice-password", "login", "--tls-verify=false", "-u", "alice", "--password-stdin", srv.Addr); err == nil {
		t.Error("skopeo login with a wrong password succeeded")
	} else if !refused.MatchString(err.Error()) && !strings.Contains(err.Error(), "invalid username/password") {
		t.Errorf("skopeo login with a wrong password failed without naming a refusal: %v", err)
	}
	anon := newSkopeo(t, bin, "anonymous")
	anon.mustRefuse(t, "copy without login", "copy", "--dest-tls-verify=false", "docker-archive:"+tarPath, "docker://"+ref)

	// alice (developer) pushes the archive.
	alice := skopeoLogin(t, bin, srv.Addr, "alice")
	digestFile := filepath.Join(t.TempDir(), "digest")
	alice.must(t, "copy", "--dest-tls-verify=false", "--digestfile", digestFile, "docker-archive:"+tarPath, "docker://"+ref)
	b, err := os.ReadFile(digestFile)
	if err != nil {
		t.Fatalf("skopeo copy wrote no digest file: %v", err)
	}
	pushed := strings.TrimSpace(string(b))
	t.Logf("skopeo copy docker-archive → %s: %s", ref, pushed)
	if got := alice.inspect(t, ref).Digest; got != pushed {
		t.Errorf("skopeo inspect %s: digest %s, skopeo copy reported %s", ref, got, pushed)
	}
	if got, err := headAs(t, ref, "alice"); err != nil || got != pushed {
		t.Errorf("go-containerregistry HEAD %s = %q, %v; want %s", ref, got, err, pushed)
	}

	// bob (reader) copies it back into a dir: and may not push.
	bob := skopeoLogin(t, bin, srv.Addr, "bob")
	if got := bob.inspect(t, ref).Digest; got != pushed {
		t.Errorf("bob: skopeo inspect digest %s, want %s", got, pushed)
	}
	out := filepath.Join(t.TempDir(), "image")
	bob.must(t, "copy", "--src-tls-verify=false", "docker://"+ref, "dir:"+out)
	manifest, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatalf("skopeo copy to dir: wrote no manifest: %v", err)
	}
	if got := sha256Digest(manifest); got != pushed {
		t.Errorf("manifest copied back hashes to %s, want %s", got, pushed)
	}
	var m struct {
		Config struct {
			Digest string `json:"digest"`
		} `json:"config"`
		Layers []json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatalf("decode copied manifest: %v", err)
	}
	if want := configDigest(t, img); m.Config.Digest != want || len(m.Layers) != 2 {
		t.Errorf("copied manifest: config %s with %d layers, want config %s (the archive's) with 2",
			m.Config.Digest, len(m.Layers), want)
	}
	bob.mustRefuse(t, "copy into team/", "copy", "--dest-tls-verify=false", "docker-archive:"+tarPath, "docker://"+srv.Addr+"/team/skopeo:bob")

	// Logout forgets the login.
	bob.must(t, "logout", srv.Addr)
	bob.mustRefuse(t, "inspect after logout", "inspect", "--tls-verify=false", "docker://"+ref)
}

// TestCraneSkopeoInterop moves images between the two tools through the
// registry: what crane pushes, skopeo inspects and copies registry to
// registry; what skopeo pushes, crane resolves and pulls; every tool sees
// the same digests.
func TestCraneSkopeoInterop(t *testing.T) {
	craneBin := liveserver.RequireBinary(t, envCraneBin)
	skopeoBin := liveserver.RequireBinary(t, envSkopeoBin)
	srv := startAuthServer(t)
	img, tarPath := testImage(t, 1)
	crane, _ := craneLogin(t, craneBin, srv.Addr, "alice", users["alice"])
	skopeo := skopeoLogin(t, skopeoBin, srv.Addr, "alice")

	// crane → skopeo.
	fromCrane := srv.Addr + "/team/interop:crane"
	ref := crane.must(t, "push", tarPath, fromCrane)
	_, craneDigest, _ := strings.Cut(ref, "@")
	if got := skopeo.inspect(t, fromCrane).Digest; got != craneDigest {
		t.Errorf("skopeo inspect of crane's push: %s, crane pushed %s", got, craneDigest)
	}
	copied := srv.Addr + "/team/interop:skopeo-copy"
	skopeo.must(t, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+fromCrane, "docker://"+copied)
	if got := crane.must(t, "digest", copied); got != craneDigest {
		t.Errorf("crane digest of skopeo's registry-to-registry copy: %s, want %s", got, craneDigest)
	}

	// skopeo → crane.
	fromSkopeo := srv.Addr + "/team/interop:skopeo"
	digestFile := filepath.Join(t.TempDir(), "digest")
	skopeo.must(t, "copy", "--dest-tls-verify=false", "--digestfile", digestFile, "docker-archive:"+tarPath, "docker://"+fromSkopeo)
	b, err := os.ReadFile(digestFile)
	if err != nil {
		t.Fatal(err)
	}
	skopeoDigest := strings.TrimSpace(string(b))
	if got := crane.must(t, "digest", fromSkopeo); got != skopeoDigest {
		t.Errorf("crane digest of skopeo's push: %s, skopeo pushed %s", got, skopeoDigest)
	}
	pulled := filepath.Join(t.TempDir(), "oci")
	crane.must(t, "pull", "--format", "oci", fromSkopeo, pulled)
	assertLayout(t, pulled, skopeoDigest, configDigest(t, img), diffIDs(t, img))
	t.Logf("crane pushed %s, skopeo pushed %s (same image config %s)", craneDigest, skopeoDigest, configDigest(t, img))
}

// sha256Digest is the OCI digest of b.
func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
