package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// pull reads repo's ref (a tag or a digest) from server.
func pull(t *testing.T, server, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(strings.TrimPrefix(server, "http://")+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	return img
}

// flatten is img's file system: path → type, mode, owner, content digest,
// link target (mutate.Extract).
func flatten(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	fs := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return fs
		}
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, tr); err != nil {
			t.Fatal(err)
		}
		fs[hdr.Name] = fmt.Sprintf("%c %o %d:%d %x %s", hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, h.Sum(nil), hdr.Linkname)
	}
}

func compressedSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, l := range ls {
		s, _ := l.Size()
		n += s
	}
	return n
}

// TestOptimize: a wasteful image pushed to a real server, optimized to a
// new tag: the new tag passed the gate (its push record says so), holds
// the same files and config, is smaller and wastes nothing; the original
// tag and digest are untouched.
func TestOptimize(t *testing.T) {
	server := startRegistry(t, nil)
	orig := pushWasteful(t, server, "team/app")
	stdout, stderr, status := cli(t, "", nil, "optimize", "team/app:v1", "--to", "team/app:v1-slim", "--server", server)
	if status != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %s\n%s", status, stderr, stdout)
	}
	t.Logf("\n%s", stdout)
	before, after := pull(t, server, "team/app@"+orig), pull(t, server, "team/app:v1-slim")
	newDigest, _ := after.Digest()
	for _, want := range []string{
		"optimize team/app:v1 (" + orig + ") → team/app:v1-slim\n",
		"LAYER  FROM  BEFORE", "1 file (50 kB)", "left out: nothing of it remains",
		"saved ", "pushed team/app:v1-slim " + newDigest.String() + "\n",
		"gate: accepted, record ", "analysis: efficiency 100.0 %, wasted 0 B (audit:pass)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if d, _ := before.Digest(); d.String() != orig {
		t.Fatalf("the original digest now pulls %s", d)
	}
	if d, _ := pull(t, server, "team/app:v1").Digest(); d.String() != orig {
		t.Errorf("the original tag moved to %s", d)
	}
	want, got := flatten(t, before), flatten(t, after)
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("file systems differ:\n%v\n%v", want, got)
	}
	b, a := compressedSize(t, before), compressedSize(t, after)
	if a >= b || b-a < 45_000 {
		t.Errorf("compressed %d → %d bytes: want about 50 kB less", b, a)
	}
	ls, _ := after.Layers()
	if len(ls) != 1 {
		t.Errorf("%d layers, want 1 (the whiteout-only layer left out)", len(ls))
	}
	stdout, _, status = cli(t, "", nil, "analyze", "team/app@"+newDigest.String(), "--server", server, "--json")
	var rep struct {
		Report struct {
			WastedBytes int64   `json:"wasted_bytes"`
			Efficiency  float64 `json:"efficiency"`
		} `json:"report"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); status != 0 || err != nil || rep.Report.WastedBytes != 0 || rep.Report.Efficiency != 1 {
		t.Errorf("analysis of the optimized image: status %d, %v, %+v", status, err, rep)
	}
}

// TestOptimizeJSONAndDryRun: --dry-run pushes nothing and gives the same
// sizes as the push; --json is one object.
func TestOptimizeJSONAndDryRun(t *testing.T) {
	server := startRegistry(t, nil)
	pushWasteful(t, server, "team/app")
	decode := func(stdout string) optimizeOutcome {
		t.Helper()
		var o optimizeOutcome
		if err := json.Unmarshal([]byte(stdout), &o); err != nil {
			t.Fatalf("%v: %q", err, stdout)
		}
		return o
	}
	stdout, stderr, status := cli(t, "", nil, "optimize", "team/app:v1", "--to", "team/app:dry", "--server", server, "--dry-run", "--json")
	if status != 0 || stderr != "" {
		t.Fatalf("dry run: status %d, %s", status, stderr)
	}
	dry := decode(stdout)
	if !dry.DryRun || dry.Digest != "" || dry.Gate != nil || dry.SavedBytes < 45_000 || dry.DroppedBytes != 50_000 || len(dry.Layers) != 2 {
		t.Errorf("dry run: %+v", dry)
	}
	r, _ := name.ParseReference(strings.TrimPrefix(server, "http://")+"/team/app:dry", name.Insecure)
	if _, err := remote.Head(r); err == nil {
		t.Error("the dry run pushed team/app:dry")
	}
	stdout, _, status = cli(t, "", nil, "optimize", "team/app:v1", "--to", "team/app:slim", "--server", server, "--json")
	real := decode(stdout)
	if status != 0 || real.Gate == nil || !real.Gate.Accepted || real.Gate.Record == nil || real.Gate.Record.Status != "accepted" ||
		real.AfterBytes != dry.AfterBytes || real.SavedBytes != dry.SavedBytes || !strings.HasPrefix(real.Digest, "sha256:") {
		t.Errorf("push: status %d, %+v (gate %+v)", status, real, real.Gate)
	}
}

// TestOptimizeRefused: the gate refuses the optimized image (here a lint
// rule of the target repository): the verdict is printed, the exit
// status is 3, nothing is tagged.
func TestOptimizeRefused(t *testing.T) {
	server := startRegistry(t, func(c *config.Config) {
		c.Validation.Lint = []config.LintRule{{Repositories: "strict/**", Labels: []string{"org.example.owner"}}}
	})
	pushWasteful(t, server, "team/app")
	stdout, stderr, status := cli(t, "", nil, "optimize", "team/app:v1", "--to", "strict/app:slim", "--server", server)
	if status != exitRefused {
		t.Fatalf("status %d, want %d\n%s%s", status, exitRefused, stdout, stderr)
	}
	t.Logf("\n%s%s", stdout, stderr)
	for _, want := range []string{"optimize: the server refused ", "strict/app:slim (HTTP 4", "org.example.owner", "the original ", "is unchanged"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "saved ") {
		t.Errorf("no plan printed:\n%s", stdout)
	}
	r, _ := name.ParseReference(strings.TrimPrefix(server, "http://")+"/strict/app:slim", name.Insecure)
	if _, err := remote.Head(r); err == nil {
		t.Error("the refused image is tagged")
	}
	stdout, _, status = cli(t, "", nil, "optimize", "team/app:v1", "--to", "strict/app:slim", "--server", server, "--json")
	var o optimizeOutcome
	if err := json.Unmarshal([]byte(stdout), &o); status != exitRefused || err != nil || o.Gate == nil || o.Gate.Accepted ||
		o.Gate.Status/100 != 4 || len(o.Gate.Errors) == 0 {
		t.Errorf("--json: status %d, %v, %s", status, err, stdout)
	}
}

// TestOptimizeUsage: wrong arguments are usage errors (status 2) and an
// index is refused naming its platforms.
func TestOptimizeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"team/app:v1"},
		{"team/app:v1", "--to", "team/app:v1"},
		{"team/app:v1", "--to", "team/app@sha256:" + strings.Repeat("0", 64)},
		{"team/app:v1", "--to", "team/app:x", "--squash", "3-1"},
		{"team/app:v1", "--to", "team/app:x", "--compression", "lz4"},
		{"Team/App:v1", "--to", "team/app:x"},
	} {
		_, stderr, status := cli(t, "", nil, append([]string{"optimize"}, args...)...)
		if status != 2 {
			t.Errorf("%v: status %d, %s", args, status, stderr)
		}
	}
}

// TestOptimizeIndex: an index's images are each optimized and pushed
// through the gate, and a new index names them with their platforms;
// an attestation manifest is left out; the original index is untouched.
func TestOptimizeIndex(t *testing.T) {
	server := startRegistry(t, nil)
	pushWasteful(t, server, "team/app")
	img := pull(t, server, "team/app:v1")
	att, err := random.Image(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(server, "http://")
	attRef, _ := name.ParseReference(host+"/team/app:att", name.Insecure)
	if err := remote.Write(attRef, att); err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}}})
	r, _ := name.ParseReference(host+"/team/app:multi", name.Insecure)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	origIdx, _ := idx.Digest()
	stdout, stderr, status := cli(t, "", nil, "optimize", "team/app:multi", "--to", "team/app:multi-slim", "--server", server)
	if status != 0 {
		t.Fatalf("status %d\n%s%s", status, stdout, stderr)
	}
	t.Logf("\n%s", stdout)
	for _, want := range []string{"\nlinux/amd64: ", "\nlinux/arm64: ", "left out of the new index: ", "an attestation of the original image",
		"dropped 2 files (100 kB) no container sees", "gate: accepted, record "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	nr, _ := name.ParseReference(host+"/team/app:multi-slim", name.Insecure)
	ni, err := remote.Index(nr)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ni.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 2 || m.Manifests[0].Platform.Architecture != "amd64" || m.Manifests[1].Platform.Architecture != "arm64" {
		t.Fatalf("new index: %+v", m.Manifests)
	}
	child, err := ni.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if b, a := compressedSize(t, img), compressedSize(t, child); a >= b || fmt.Sprint(flatten(t, img)) != fmt.Sprint(flatten(t, child)) {
		t.Errorf("child: %d → %d bytes, or its files differ", b, a)
	}
	if d, err := remote.Head(r); err != nil || d.Digest != origIdx {
		t.Errorf("the original index: %v %v", d, err)
	}
}

// TestOptimizeRefusesHostileImage: an image the gate stored with a layer
// entry named "../../etc/passwd" (containerd roots it) is not rewritten:
// a clear error naming the layer and the entry, exit status 1.
func TestOptimizeRefusesHostileImage(t *testing.T) {
	// The gate refuses such layers by default; a registry that lets them
	// through is where optimize must refuse them itself.
	server := startRegistry(t, func(c *config.Config) { c.Analysis.AllowUnsafePaths = true })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "../../etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4})
	_, _ = tw.Write([]byte("evil"))
	_ = tw.Close()
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(strings.TrimPrefix(server, "http://")+"/team/evil:v1", name.Insecure)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	_, stderr, status := cli(t, "", nil, "optimize", "team/evil:v1", "--to", "team/evil:slim", "--server", server)
	if status != 1 || !strings.Contains(stderr, `optimize: layer 1: entry "../../etc/passwd" leaves the image root; refusing to rewrite the image`) {
		t.Errorf("status %d: %s", status, stderr)
	}
}

// TestOptimizeWithAuth: the registry's token flow, with a user's
// password from the environment or from standard input, or with a
// token; a reader (no push) is refused with exit status 3.
func TestOptimizeWithAuth(t *testing.T) {
	htpasswd := liveserver.WriteHtpasswd(t, map[string]string{"alice": "alice-pw", "bob": "bob-pw"})
	server := startRegistry(t, func(c *config.Config) {
		c.Auth.Enabled = true
		c.Auth.Htpasswd = htpasswd
		c.Auth.SigningKey = filepath.Join(t.TempDir(), "signing-key.pem")
		c.Auth.PersonalNamespace = false
		c.Auth.Bindings = []config.AuthBinding{
			{Subjects: []string{"alice"}, Role: "developer", Repositories: []string{"team/**"}},
			{Subjects: []string{"bob"}, Role: "reader", Repositories: []string{"team/**"}},
		}
	})
	img := wastefulImage(t)
	r, _ := name.ParseReference(strings.TrimPrefix(server, "http://")+"/team/app:v1", name.Insecure)
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "alice", Password: "alice-pw"})); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, status := cli(t, "", []string{"IMAGEGATE_USERNAME=alice", "IMAGEGATE_PASSWORD=alice-pw"},
		"optimize", "team/app:v1", "--to", "team/app:env", "--server", server)
	if status != 0 || !strings.Contains(stdout, "gate: accepted, record ") {
		t.Fatalf("password from the environment: status %d\n%s%s", status, stdout, stderr)
	}
	stdout, stderr, status = cli(t, "alice-pw\n", nil, "optimize", "team/app:v1", "--to", "team/app:stdin", "--server", server, "--username", "alice")
	if status != 0 || !strings.Contains(stdout, "gate: accepted, record ") {
		t.Fatalf("password from standard input: status %d\n%s%s", status, stdout, stderr)
	}
	token, err := fetchToken(http.DefaultClient, server, "alice", "alice-pw", "repository:team/app:pull,push")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, status = cli(t, "", []string{"IMAGEGATE_TOKEN=" + token}, "optimize", "team/app:v1", "--to", "team/app:token", "--server", server)
	if status != 0 || !strings.Contains(stdout, "gate: accepted, record ") {
		t.Fatalf("token: status %d\n%s%s", status, stdout, stderr)
	}
	_, stderr, status = cli(t, "", []string{"IMAGEGATE_USERNAME=bob", "IMAGEGATE_PASSWORD=bob-pw"},
		"optimize", "team/app:v1", "--to", "team/app:bob", "--server", server)
	if status != exitRefused || !strings.Contains(stderr, "optimize: the server refused team/app:bob (HTTP 40") {
		t.Errorf("a reader: status %d, %s", status, stderr)
	}
}

// wastefulImage is pushWasteful's image, not pushed.
func wastefulImage(t *testing.T) v1.Image {
	t.Helper()
	server := startRegistry(t, nil)
	pushWasteful(t, server, "tmp/app")
	return pull(t, server, "tmp/app:v1")
}

// TestOptimizeSquashAndZstd: --squash all --compression zstd through a
// real server: one zstd layer in an OCI manifest, the history saying what
// was merged, the same files; --dry-run's text names no push.
func TestOptimizeSquashAndZstd(t *testing.T) {
	server := startRegistry(t, nil)
	orig := pushWasteful(t, server, "team/app")
	stdout, stderr, status := cli(t, "", nil, "optimize", "team/app:v1", "--to", "team/app:flat", "--server", server, "--squash", "all", "--dry-run")
	if status != 0 || !strings.Contains(stdout, "1      1-2   ") || !strings.Contains(stdout, "squashed") || !strings.HasSuffix(stdout, "dry run: nothing pushed\n") {
		t.Errorf("dry run: status %d\n%s%s", status, stdout, stderr)
	}
	_, stderr, status = cli(t, "", nil, "optimize", "team/app:v1", "--to", "team/app:flat", "--server", server, "--squash", "all", "--compression", "zstd")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	img := pull(t, server, "team/app:flat")
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" || m.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("manifest %+v", m)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, h := range cfg.History {
		lines = append(lines, fmt.Sprintf("%v %s", h.EmptyLayer, h.CreatedBy))
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"true /bin/sh -c apt-get install -y x", "true /bin/sh -c rm /var/cache/apt/x.deb",
		"false imagegate optimize: squashed layers 1-2 (/bin/sh -c apt-get install -y x; /bin/sh -c rm /var/cache/apt/x.deb)",
		"true imagegate optimize team/app:v1 --to team/app:flat"} {
		if !strings.Contains(joined, want) {
			t.Errorf("history lacks %q:\n%s", want, joined)
		}
	}
	if w, g := flatten(t, pull(t, server, "team/app@"+orig)), flatten(t, img); fmt.Sprint(w) != fmt.Sprint(g) {
		t.Errorf("file systems differ:\n%v\n%v", w, g)
	}
}
