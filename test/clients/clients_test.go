package clients

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// Environment read by the tests of this package.
const (
	envImagegateBin = "IMAGEGATE_BIN" // the imagegate binary under test
	envCraneBin     = "CRANE_BIN"     // crane, from scripts/install-clients.sh
	envSkopeoBin    = "SKOPEO_BIN"    // skopeo, from scripts/install-clients.sh
)

// cmdTimeout bounds every client command; each moves a few hundred KiB.
const cmdTimeout = time.Minute

// users are the accounts of every test here: root is admin on every
// repository, alice a developer (pull, push) on team/**, bob a reader (pull)
// there.
var users = map[string]string{"root": "root-Secret-0", "alice": "alice-Secret-1", "bob": "bob-Secret-2"}

// startAuthServer starts the imagegate binary with auth on and the users
// above bound to their roles.
func startAuthServer(t *testing.T) *liveserver.Server {
	t.Helper()
	bin := liveserver.RequireBinary(t, envImagegateBin)
	htpasswd := liveserver.WriteHtpasswd(t, users)
	return liveserver.StartWithConfig(t, bin, fmt.Sprintf(`auth:
  enabled: true
  htpasswd: %q
  signingkey: %q
  bindings:
    - subjects: [root]
      role: admin
      repositories: ["**"]
    - subjects: [alice]
      role: developer
      repositories: ["team/**"]
    - subjects: [bob]
      role: reader
      repositories: ["team/**"]
`, htpasswd, filepath.Join(t.TempDir(), "signing-key.pem")))
}

// refused matches how crane and skopeo report a registry's refusal (the
// token service's 401, or a token that lacks the scope).
var refused = regexp.MustCompile(`(?i)denied|unauthorized|insufficient_scope`)

// cli runs one command-line client with a private home, so that logins
// stay inside the test.
type cli struct {
	name string   // for messages: "crane (alice)"
	bin  string   // absolute path
	pre  []string // arguments before every command's own (global flags)
	env  []string // added to the test's environment, winning over it
}

// run executes the client with args, bounded by cmdTimeout, and returns its
// standard output, trimmed. On failure the error carries stdout and stderr.
func (c cli) run(ctx context.Context, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append(append([]string(nil), c.pre...), args...)...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	stdout := strings.TrimSpace(out.String())
	if err != nil {
		return stdout, fmt.Errorf("%s %s: %w\n%s\n%s", c.name, strings.Join(args, " "), err,
			strings.TrimSpace(errOut.String()), stdout)
	}
	return stdout, nil
}

// must is run without stdin that fails the test on error.
func (c cli) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.run(t.Context(), "", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustRefuse runs args and fails the test unless the client fails with a
// refusal by the registry.
func (c cli) mustRefuse(t *testing.T, what string, args ...string) {
	t.Helper()
	_, err := c.run(t.Context(), "", args...)
	switch {
	case err == nil:
		t.Errorf("%s: %s succeeded, want it refused", c.name, what)
	case !refused.MatchString(err.Error()):
		t.Errorf("%s: %s failed without naming a refusal (denied/unauthorized/insufficient_scope): %v", c.name, what, err)
	default:
		t.Logf("%s: %s refused as expected", c.name, what)
	}
}

// testImage returns a random image of n layers and the path of a
// docker-archive tarball of it (tarball.WriteToFile, tagged src:v1).
func testImage(t *testing.T, n int) (v1.Image, string) {
	t.Helper()
	img, err := random.Image(64<<10, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	tag, err := name.NewTag("imagegate-test/src:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatalf("write image tarball: %v", err)
	}
	return img, path
}

// headAs returns the digest the registry serves for ref, asked with
// go-containerregistry's own token flow as user.
func headAs(t *testing.T, ref, user string) (string, error) {
	t.Helper()
	return head(t, ref, remote.WithAuth(&authn.Basic{Username: user, Password: users[user]}))
}

func head(t *testing.T, ref string, opts ...remote.Option) (string, error) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	desc, err := remote.Head(r, append(opts, remote.WithContext(ctx))...)
	if err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
}

// mustDigest is digest of img, failing the test on error.
func mustDigest(t *testing.T, img interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// configDigest is the digest of img's config blob (Docker's image ID).
func configDigest(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// diffIDs returns the uncompressed layer digests of img.
func diffIDs(t *testing.T, img v1.Image) []string {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(cfg.RootFS.DiffIDs))
	for _, h := range cfg.RootFS.DiffIDs {
		out = append(out, h.String())
	}
	return out
}
