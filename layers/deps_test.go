package layers

import (
	"os/exec"
	"strings"
	"testing"
)

// The package (not its tests, which run Dive's filetree) pulls no Docker
// engine client or Dive into the binary.
func TestNoEngineClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/imagegate/imagegate/layers").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/docker/docker/", "github.com/moby/moby/client", "github.com/wagoodman/dive"} {
			if strings.HasPrefix(p, banned) || p == strings.TrimSuffix(banned, "/") {
				t.Errorf("layers depends on %s", p)
			}
		}
	}
}
