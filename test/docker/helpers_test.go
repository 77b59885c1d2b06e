package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// cmdTimeout bounds every docker CLI call; with the vfs driver a push or pull
// of the small test image takes a few seconds.
const cmdTimeout = 2 * time.Minute

// dockerCLI runs the docker client against the engine named by DOCKER_HOST
// (inherited from the test's environment).
type dockerCLI struct {
	bin string
	// config, when set, is the client's configuration directory
	// (DOCKER_CONFIG): where docker login keeps credentials. A private one
	// per test keeps logins from leaking between tests or into ~/.docker.
	config string
}

// run executes `docker args...` bounded by cmdTimeout and returns its
// combined output, trimmed. On failure the error carries the output.
func (d dockerCLI) run(ctx context.Context, args ...string) (string, error) {
	return d.runStdin(ctx, "", args...)
}

// runStdin is run with stdin as the command's standard input.
func (d dockerCLI) runStdin(ctx context.Context, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.WaitDelay = 5 * time.Second
	if d.config != "" {
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+d.config)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	if err != nil {
		return text, fmt.Errorf("docker %s: %w\n%s", strings.Join(args, " "), err, text)
	}
	return text, nil
}

// must is run that fails the test on error, showing the command's output.
func (d dockerCLI) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := d.run(t.Context(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// randomImage returns a linux image for the host's architecture with n
// layers of real tar content (one random file each, as docker load unpacks
// them), so that each run pushes blobs the registry has never seen.
func randomImage(n int) (v1.Image, error) {
	layers := make([]v1.Layer, 0, n)
	for range n {
		l, err := random.Layer(256<<10, types.DockerLayer)
		if err != nil {
			return nil, fmt.Errorf("random layer: %w", err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}

// uniqueTag returns a tag that no earlier run used.
func uniqueTag() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "e2e-" + hex.EncodeToString(b)
}

// pushDigest matches the last line of `docker push`: "TAG: digest: sha256:... size: N".
var pushDigest = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64}) size: \d+`)

// diffIDs returns the uncompressed layer digests of img as strings.
func diffIDs(img v1.Image) ([]string, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	out := make([]string, 0, len(cfg.RootFS.DiffIDs))
	for _, h := range cfg.RootFS.DiffIDs {
		out = append(out, h.String())
	}
	return out, nil
}
