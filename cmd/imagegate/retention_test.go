package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/registry"
	"github.com/imagegate/imagegate/registry/registrytest"
)

// TestRetentionCommands: `imagegate retention plan` prints each tag with
// its verdict and why; `apply` deletes the planned one and says so; the
// next plan deletes nothing.
func TestRetentionCommands(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	root := ""
	srv, _ := registrytest.Start(t, func(c *config.Config) {
		c.Lifecycle.Retention = []config.RetentionRule{{Repositories: "dev/**", KeepLast: 1, KeepTags: []string{"keep-*"}}}
		root = c.Storage.Filesystem.RootDirectory
	}, registry.WithRetentionClock(func() time.Time { return now }))
	server := "http://" + srv.Addr().String()
	for i, tag := range []string{"keep-1", "old", "new"} {
		img, _ := random.Image(256, 1)
		ref, _ := name.ParseReference(srv.Addr().String()+"/dev/tool:"+tag, name.Insecure)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		at := now.Add(-time.Duration(3-i) * 24 * time.Hour)
		link := filepath.Join(root, "docker/registry/v2/repositories/dev/tool/_manifests/tags", tag, "current/link")
		if err := os.Chtimes(link, at, at); err != nil {
			t.Fatal(err)
		}
	}
	stdout, stderr, status := cli(t, "", nil, "retention", "plan", "--server", server)
	if status != 0 || stderr != "" {
		t.Fatalf("plan: status %d, %s", status, stderr)
	}
	for _, want := range []string{
		"retention plan at 2026-12-03T12:00:00Z: 1 tags to delete in 1 repositories\n",
		`dev/tool — retention "dev/**" (keeplast 1), 1 to delete, 2 kept`,
		"delete  old     2026-12-01 12:00:00  newest 2 of 3, past keeplast 1\n",
		"keep    new     2026-12-02 12:00:00  newest 1 of 3, within keeplast 1\n",
		"keep    keep-1  2026-11-30 12:00:00  matches keeptags \"keep-*\"\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, stderr, status = cli(t, "", nil, "retention", "apply", "--server", server)
	if status != 0 || stderr != "" || !strings.Contains(stdout,
		"deleted dev/tool:old — retention: retention \"dev/**\" (keeplast 1): newest 2 of 3, past keeplast 1\n1 deleted, 0 skipped, 0 remaining\n") {
		t.Fatalf("apply: status %d, %s\n%s", status, stderr, stdout)
	}
	stdout, _, status = cli(t, "", nil, "retention", "plan", "--server", server, "--json", "--repository", "dev/**")
	var p struct {
		Repositories []struct {
			Delete []any `json:"delete"`
			Keep   []any `json:"keep"`
		} `json:"repositories"`
	}
	if err := json.Unmarshal([]byte(stdout), &p); status != 0 || err != nil || len(p.Repositories) != 1 ||
		len(p.Repositories[0].Delete) != 0 || len(p.Repositories[0].Keep) != 2 {
		t.Fatalf("plan after apply: status %d, %v\n%s", status, err, stdout)
	}
	_, stderr, status = cli(t, "", nil, "retention", "plan", "--server", server, "--repository", "a/***")
	if status != 1 || !strings.Contains(stderr, "QUERY_INVALID") {
		t.Fatalf("bad pattern: status %d, %s", status, stderr)
	}
}
