package registry

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/metadata"
)

const (
	immutableMoved   = `tag team/app:v1.2.3 is immutable (rule "team/**" tags "v*.*.*"); push a new tag instead`
	immutableDeleted = `tag team/app:v1.2.3 is immutable (rule "team/**" tags "v*.*.*"); it cannot be deleted`
)

// startImmutableServer is startAuthServer (root admin, alice developer on
// team/**) with tags v*.*.* and semantic versions immutable under team/**.
func startImmutableServer(t *testing.T) *testServer {
	t.Helper()
	return startAuthServer(t, func(c *config.Config) {
		c.Lifecycle.Immutable = []config.ImmutableRule{{Repositories: "team/**", Tags: []string{"v*.*.*", lifecycle.Semver}}}
	})
}

// refusedWith asserts an answer is 403 DENIED carrying message.
func refusedWith(t *testing.T, what string, status int, body []byte, message string) {
	t.Helper()
	if status != http.StatusForbidden || !slices.Contains(ociErrorCodes(t, body), "DENIED") || !strings.Contains(string(body), jsonString(t, message)) {
		t.Fatalf("%s: %d %s\nwant 403 DENIED %q", what, status, body, message)
	}
}

func bearerFor(t *testing.T, s *testServer, user, repo, actions string, extra ...string) http.Header {
	h := http.Header{"Authorization": {"Bearer " + token(t, s, user, "repository:"+repo+":"+actions)}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// TestImmutableTagsThroughEveryPath creates team/app:v1.2.3, then tries to
// move or delete it through every path that writes tags: a push by tag
// (go-containerregistry), ?tag= on a push by digest, the tarball door, a
// DELETE by tag and by digest — each refused with the rule's message and
// the tag unchanged — and checks that a retried push of the same digest
// and an unprotected tag still work.
func TestImmutableTagsThroughEveryPath(t *testing.T) {
	s := startImmutableServer(t)
	first, _ := random.Image(1024, 1)
	ref, _ := name.ParseReference(s.host()+"/team/app:v1.2.3", name.Insecure)
	if err := remote.Write(ref, first, as("alice")); err != nil {
		t.Fatalf("creating v1.2.3: %v", err)
	}
	if err := remote.Write(ref, first, as("alice")); err != nil {
		t.Fatalf("pushing the same image to v1.2.3 again: %v", err)
	}
	want, _ := first.Digest()
	second, _ := random.Image(1024, 1)
	unchanged := func(path string) {
		t.Helper()
		got, err := remote.Head(ref, as("alice"))
		if err != nil || got.Digest != want {
			t.Fatalf("after %s: v1.2.3 = %v (%v), want %s", path, got, err, want)
		}
	}

	err := remote.Write(ref, second, as("alice"))
	if statusOf(err) != http.StatusForbidden || !strings.Contains(err.Error(), immutableMoved) {
		t.Fatalf("push by tag: %v, want 403 %q", err, immutableMoved)
	}
	t.Logf("go-containerregistry prints: %v", err)
	unchanged("a push by tag")

	byDigest, _ := name.ParseReference(s.host()+"/team/app@"+mustDigest(t, second), name.Insecure)
	if err := remote.Write(byDigest, second, as("alice")); err != nil {
		t.Fatalf("push by digest: %v", err)
	}
	raw, _ := second.RawManifest()
	mt, _ := second.MediaType()
	h := bearerFor(t, s, "alice", "team/app", "pull,push", "Content-Type", string(mt))
	status, _, body := do(t, http.MethodPut, s.base+"/v2/team/app/manifests/"+mustDigest(t, second)+"?tag=latest&tag=v1.2.3", h, bytes.NewReader(raw))
	refusedWith(t, "?tag=", status, body, immutableMoved)
	unchanged("?tag=")
	if _, err := remote.Head(mustRef(t, s.host()+"/team/app:latest"), as("alice")); err == nil {
		t.Fatal("a refused ?tag= push set its other tag")
	}

	var tarBuf bytes.Buffer
	tag, _ := name.NewTag("example.com/orig:v0")
	if err := tarball.Write(tag, second, &tarBuf); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.base+"/upload-image?repository=team/app&tag=v1.2.3", &tarBuf)
	req.SetBasicAuth("alice", testUsers["alice"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body = readAll(t, resp)
	refusedWith(t, "tarball door", resp.StatusCode, body, immutableMoved)
	unchanged("the tarball door")

	// root may delete anything; without the override header the rule holds for him too.
	del := bearerFor(t, s, "root", "team/app", "delete")
	status, _, body = do(t, http.MethodDelete, s.base+"/v2/team/app/manifests/v1.2.3", del, nil)
	refusedWith(t, "DELETE by tag", status, body, immutableDeleted)
	status, _, body = do(t, http.MethodDelete, s.base+"/v2/team/app/manifests/"+want.String(), del, nil)
	refusedWith(t, "DELETE by digest", status, body, immutableDeleted)
	unchanged("the deletions")

	if err := remote.Write(mustRef(t, s.host()+"/team/app:latest"), second, as("alice")); err != nil {
		t.Fatalf("pushing an unprotected tag: %v", err)
	}
	if err := remote.Write(mustRef(t, s.host()+"/team/app:latest"), first, as("alice")); err != nil {
		t.Fatalf("moving an unprotected tag: %v", err)
	}
	recs, _ := s.store.List(t.Context(), metadata.Query{Repository: "team/app", Limit: metadata.MaxLimit})
	var reasons []string
	for _, r := range recs.Records {
		if r.Status == metadata.StatusRejected {
			reasons = append(reasons, r.Reason)
		}
	}
	if len(reasons) < 3 || !slices.Contains(reasons, immutableMoved) {
		t.Fatalf("rejected records %q, want the refused pushes recorded with the rule", reasons)
	}
}

// TestImmutableOverrideByAdministrator: the override header is ignored for
// a developer; for an administrator it moves and deletes the tag, and the
// push and deletion records and an audit line say so, with the reason.
func TestImmutableOverrideByAdministrator(t *testing.T) {
	s := startImmutableServer(t)
	first, _ := random.Image(1024, 1)
	if err := remote.Write(mustRef(t, s.host()+"/team/app:v1.2.3"), first, as("alice")); err != nil {
		t.Fatal(err)
	}
	second, _ := random.Image(1024, 1)
	if err := remote.Write(mustRef(t, s.host()+"/team/app@"+mustDigest(t, second)), second, as("alice")); err != nil {
		t.Fatal(err)
	}
	raw, _ := second.RawManifest()
	mt, _ := second.MediaType()
	put := func(user string) (int, []byte) {
		h := bearerFor(t, s, user, "team/app", "pull,push", "Content-Type", string(mt), lifecycle.OverrideHeader, "INC-7 rebuilt with the fixed base")
		status, _, body := do(t, http.MethodPut, s.base+"/v2/team/app/manifests/v1.2.3", h, bytes.NewReader(raw))
		return status, body
	}
	status, body := put("alice")
	refusedWith(t, "override by a developer", status, body, immutableMoved)
	if status, body := put("root"); status != http.StatusCreated {
		t.Fatalf("override by an administrator: %d %s", status, body)
	}
	page, _ := s.store.List(t.Context(), metadata.Query{Repository: "team/app", Digest: digest.Digest(mustDigest(t, second))})
	var overridden *metadata.Record
	for _, r := range page.Records {
		if r.Kind == metadata.KindPush && r.Status == metadata.StatusAccepted && len(r.Overrides) > 0 {
			overridden = r
		}
	}
	if overridden == nil || overridden.User.Subject != "root" ||
		!strings.Contains(overridden.Overrides[0], `immutable tag team/app:v1.2.3 moved from `+mustDigest(t, first)+` to `+mustDigest(t, second)) ||
		!strings.HasSuffix(overridden.Overrides[0], `by administrator override of rule "team/**" tags "v*.*.*": INC-7 rebuilt with the fixed base`) {
		t.Fatalf("records %+v, want root's push recording the override", page.Records)
	}

	// Through the tarball door: a developer's header is ignored, an
	// administrator's moves the tag, recorded in the upload's record.
	third, _ := random.Image(1024, 1)
	var tarBuf bytes.Buffer
	if err := tarball.Write(mustTag(t, "example.com/third:v0"), third, &tarBuf); err != nil {
		t.Fatal(err)
	}
	upload := func(user string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, s.base+"/upload-image?repository=team/app&tag=v1.2.3", bytes.NewReader(tarBuf.Bytes()))
		req.SetBasicAuth(user, testUsers[user])
		req.Header.Set(lifecycle.OverrideHeader, "INC-8")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readAll(t, resp)
	}
	status, body = upload("alice")
	refusedWith(t, "upload override by a developer", status, body, immutableMoved)
	if status, body := upload("root"); status != http.StatusCreated {
		t.Fatalf("upload override by an administrator: %d %s", status, body)
	}
	page, _ = s.store.List(t.Context(), metadata.Query{Repository: "team/app", Digest: digest.Digest(mustDigest(t, third))})
	byUpload := 0
	for _, r := range page.Records {
		if r.Status == metadata.StatusAccepted && r.Source == metadata.SourceTarUpload && len(r.Overrides) == 1 &&
			strings.HasSuffix(r.Overrides[0], ": INC-8") && r.User.Subject == "root" {
			byUpload++
		}
	}
	if byUpload != 1 {
		t.Fatalf("upload records %+v, want root's accepted upload recording the override", page.Records)
	}

	h := bearerFor(t, s, "root", "team/app", "delete", lifecycle.OverrideHeader, "retired")
	if status, _, body := do(t, http.MethodDelete, s.base+"/v2/team/app/manifests/v1.2.3", h, nil); status != http.StatusAccepted {
		t.Fatalf("DELETE with override: %d %s", status, body)
	}
	all, _ := s.store.List(t.Context(), metadata.Query{Repository: "team/app", Limit: metadata.MaxLimit})
	var dels []*metadata.Record
	for _, r := range all.Records {
		if r.Kind == metadata.KindDeleteTag {
			dels = append(dels, r)
		}
	}
	if len(dels) != 1 || len(dels[0].Overrides) != 1 || !strings.HasSuffix(dels[0].Overrides[0], ": retired") {
		t.Fatalf("tag deletion records %+v", dels)
	}
	audits := 0
	for _, l := range s.logs.lines(t) {
		if l["msg"] == "immutable tag overridden" && l["audit"] == "lifecycle" && l["user"] == "root" {
			audits++
		}
	}
	if audits != 3 {
		t.Fatalf("%d audit lines for three overrides", audits)
	}
}

// TestImmutableWithCrane runs crane itself (skipped when it is not
// installed): `crane push` over a protected tag, `crane tag` onto it and
// `crane delete` of its digest are refused, and what crane prints names
// the rule (docs/lifecycle.md quotes it); so does `skopeo copy`, when
// skopeo is installed.
func TestImmutableWithCrane(t *testing.T) {
	bin := craneBinary(t)
	s := startImmutableServer(t)
	first, _ := random.Image(1024, 1)
	if err := remote.Write(mustRef(t, s.host()+"/team/app:v1.2.3"), first, as("alice")); err != nil {
		t.Fatal(err)
	}
	rc, _ := random.Image(1024, 1)
	if err := remote.Write(mustRef(t, s.host()+"/team/app:v2.0.0-rc.1"), rc, as("alice")); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	crane := func(stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), bin, append([]string{"--insecure"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// root, an administrator: without the override header the rule holds for him too.
	if out, err := crane(testUsers["root"], "auth", "login", s.host(), "-u", "root", "--password-stdin"); err != nil {
		t.Fatalf("crane auth login: %v\n%s", err, out)
	}
	second, _ := random.Image(1024, 1)
	tarPath := filepath.Join(t.TempDir(), "second.tar")
	if err := tarball.WriteToFile(tarPath, mustTag(t, "example.com/second:v0"), second); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		args []string
		want string
	}{
		{"crane push", []string{"push", tarPath, s.host() + "/team/app:v1.2.3"}, immutableMoved},
		{"crane tag", []string{"tag", s.host() + "/team/app:v2.0.0-rc.1", "v1.2.3"}, immutableMoved},
		{"crane delete", []string{"delete", s.host() + "/team/app@" + mustDigest(t, first)},
			`tag team/app:v1.2.3 is immutable (rule "team/**" tags "v*.*.*"); it cannot be deleted`},
	} {
		out, err := crane("", c.args...)
		if err == nil || !strings.Contains(out, "DENIED: "+c.want) {
			t.Fatalf("%s: %v\n%s\nwant DENIED: %s", c.what, err, out, c.want)
		}
		t.Logf("%s prints: %s", c.what, strings.TrimSpace(out))
	}
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		return
	}
	cmd := exec.CommandContext(t.Context(), skopeo, "copy", "--dest-tls-verify=false", "--dest-creds", "alice:"+testUsers["alice"],
		"docker-archive:"+tarPath, "docker://"+s.host()+"/team/app:v1.2.3")
	cmd.Env = append(os.Environ(), "HOME="+home)
	out, err := cmd.CombinedOutput()
	// skopeo logs through logrus, which escapes the quotes.
	if err == nil || !strings.Contains(strings.ReplaceAll(string(out), `\"`, `"`), "denied: "+immutableMoved) {
		t.Fatalf("skopeo copy: %v\n%s\nwant %s", err, out, immutableMoved)
	}
	t.Logf("skopeo copy prints: %s", strings.TrimSpace(string(out)))
}

func craneBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("crane"); err == nil {
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "imagegate", "tools", "crane-v0.22.1", "crane")
	if _, err := os.Stat(p); err != nil {
		t.Skip("crane is not installed (scripts/install-clients.sh)")
	}
	return p
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	r, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustDigest(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestImmutableTagNamingASHA512Digest: a protected tag set by a push by
// sha512 digest names the alias; deleting the manifest by that alias, or
// by its canonical sha256 digest, would delete the tag and is refused.
func TestImmutableTagNamingASHA512Digest(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.Lifecycle.Immutable = []config.ImmutableRule{{Repositories: "big/**", Tags: []string{lifecycle.Semver}}}
	})
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	ociPushBlob(t, s, "big/one", config)
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		digest.FromBytes(config).String() + `","size":` + fmt.Sprint(len(config)) + `},"layers":[]}`)
	man512 := digest.SHA512.FromBytes(manifest)
	ct := http.Header{"Content-Type": {"application/vnd.oci.image.manifest.v1+json"}}
	if status, _, body := do(t, http.MethodPut, s.base+"/v2/big/one/manifests/"+man512.String()+"?tag=1.0.0", ct, bytes.NewReader(manifest)); status != http.StatusCreated {
		t.Fatalf("push by sha512 with ?tag=1.0.0: %d %s", status, body)
	}
	want := `tag big/one:1.0.0 is immutable (rule "big/**" tags "semver"); it cannot be deleted`
	for _, d := range []digest.Digest{man512, digest.FromBytes(manifest)} {
		status, _, body := do(t, http.MethodDelete, s.base+"/v2/big/one/manifests/"+d.String(), nil, nil)
		refusedWith(t, "DELETE by "+string(d.Algorithm()), status, body, want)
	}
	if status, hdr, _ := do(t, http.MethodHead, s.base+"/v2/big/one/manifests/1.0.0", http.Header{"Accept": {"application/vnd.oci.image.manifest.v1+json"}}, nil); status != http.StatusOK || hdr.Get("Docker-Content-Digest") != man512.String() {
		t.Fatalf("1.0.0 after refused deletions: %d %s", status, hdr.Get("Docker-Content-Digest"))
	}
}
