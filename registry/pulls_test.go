package registry

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/pulls"
	"github.com/imagegate/imagegate/retention"
)

// testClock is a settable clock shared by a test and a server.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// pushAged pushes img as repo:tag into s and dates the tag's link at.
func pushAged(t *testing.T, s *testServer, repo, tag string, img v1.Image, at time.Time) {
	t.Helper()
	if err := remote.Write(mustRef(t, s.host()+"/"+repo+":"+tag), img); err != nil {
		t.Fatalf("pushing %s:%s: %v", repo, tag, err)
	}
	link := filepath.Join(s.cfg.Storage.Filesystem.RootDirectory, "docker/registry/v2/repositories", repo, "_manifests/tags", tag, "current/link")
	if err := os.Chtimes(link, at, at); err != nil {
		t.Fatal(err)
	}
}

// TestPullsKeepPulledTags pulls through crane (by tag: GET) and
// go-containerregistry (by digest: GET), checks crane's HEAD (`crane
// digest`) is no pull, flushes, and checks that retention keeps the tags
// whose manifest was pulled within keeppulleddays, saying when, deletes
// the unpulled one saying for how long pulls were tracked, and that the
// tags API shows the last pull.
func TestPullsKeepPulledTags(t *testing.T) {
	bin := craneBinary(t)
	now := time.Now().UTC().Truncate(time.Second)
	clock := &testClock{t: now.Add(-45 * 24 * time.Hour)}
	s := startServer(t, func(c *config.Config) {
		c.Lifecycle.Retention = []config.RetentionRule{{Repositories: "dev/**", KeepLast: 1, KeepPulledDays: 30}}
		c.Lifecycle.Pulls.FlushInterval = time.Hour // the test flushes
	}, WithPullClock(clock.now), WithRetentionClock(clock.now))
	images := map[string]v1.Image{}
	for tag, age := range map[string]int{"new": 1, "by-tag": 60, "by-digest": 61, "headed": 62} {
		images[tag], _ = random.Image(512, 1)
		pushAged(t, s, "dev/tool", tag, images[tag], now.Add(-time.Duration(age)*24*time.Hour))
	}
	if _, err := s.pulls.Flush(t.Context()); err != nil { // tracking begins 45 days before now
		t.Fatal(err)
	}

	clock.set(now.Add(-3 * 24 * time.Hour))
	crane := func(args ...string) string {
		cmd := exec.CommandContext(t.Context(), bin, append([]string{"--insecure"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("crane %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	crane("pull", s.host()+"/dev/tool:by-tag", filepath.Join(t.TempDir(), "img.tar"))
	crane("digest", s.host()+"/dev/tool:headed") // HEAD only
	d, _ := images["by-digest"].Digest()
	if _, err := remote.Image(mustRef(t, s.host()+"/dev/tool@"+d.String())); err != nil {
		t.Fatal(err)
	}
	st := s.pulls.Stats()
	if st.Buffered != 2 {
		t.Fatalf("buffer after a pull by tag, a HEAD and a pull by digest: %+v, want 2 keys", st)
	}
	if _, err := s.pulls.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	clock.set(now)
	var plan retention.Plan
	status, _, body := do(t, "GET", s.base+"/api/v1/retention/plan", nil, nil)
	if status != http.StatusOK || json.Unmarshal(body, &plan) != nil || len(plan.Repositories) != 1 {
		t.Fatalf("plan: %d %s", status, body)
	}
	got := map[string]string{}
	for _, v := range append(plan.Repositories[0].Keep, plan.Repositories[0].Delete...) {
		got[v.Tag] = v.Clause + "|" + v.Why
	}
	want := map[string]string{
		"new":       "keeplast|newest 1 of 4, within keeplast 1",
		"by-tag":    "keeppulleddays|pulled 3.0 days ago, within keeppulleddays 30",
		"by-digest": "keeppulleddays|pulled 3.0 days ago, within keeppulleddays 30",
		"headed":    "expired|newest 4 of 4, past keeplast 1; not pulled in the 45.0 days pulls were tracked, past keeppulleddays 30",
	}
	for tag, w := range want {
		if got[tag] != w {
			t.Errorf("%s: %q, want %q", tag, got[tag], w)
		}
	}
	if plan.Repositories[0].Rule != `retention "dev/**" (keeplast 1, keeppulleddays 30)` {
		t.Errorf("rule %q", plan.Repositories[0].Rule)
	}

	status, _, body = do(t, "GET", s.base+"/api/v1/repositories/dev/tool/tags", nil, nil)
	var tags struct {
		Tags              []api.Tag
		PullsTrackedSince time.Time `json:"pulls_tracked_since"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &tags) != nil {
		t.Fatalf("tags: %d %s", status, body)
	}
	if began := now.Add(-45 * 24 * time.Hour); !tags.PullsTrackedSince.Equal(began) {
		t.Errorf("tags API: pulls tracked since %v, want the first flush's %v", tags.PullsTrackedSince, began)
	}
	pulledAt := now.Add(-3 * 24 * time.Hour)
	for _, tg := range tags.Tags {
		switch tg.Name {
		case "by-tag":
			if !tg.LastPulledAt.Equal(pulledAt) || tg.LastPulledTag != "by-tag" {
				t.Errorf("by-tag: %+v, want pulled at %v as by-tag", tg, pulledAt)
			}
		case "by-digest":
			if !tg.LastPulledAt.Equal(pulledAt) || tg.LastPulledTag != "" {
				t.Errorf("by-digest: %+v, want pulled at %v by digest", tg, pulledAt)
			}
		default:
			if !tg.LastPulledAt.IsZero() {
				t.Errorf("%s: pulled at %v, never pulled", tg.Name, tg.LastPulledAt)
			}
		}
	}
	t.Logf("tags API: %s", body)

	byTag, _ := images["by-tag"].Digest()
	status, _, body = do(t, "GET", s.base+"/api/v1/repositories/dev/tool/manifests/"+byTag.String(), nil, nil)
	var m struct {
		LastPulledAt  time.Time `json:"last_pulled_at"`
		LastPulledTag string    `json:"last_pulled_tag"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &m) != nil || !m.LastPulledAt.Equal(pulledAt) || m.LastPulledTag != "by-tag" {
		t.Fatalf("manifest API: %d %s, want last pulled at %v as by-tag", status, body, pulledAt)
	}
	headed, _ := images["headed"].Digest()
	status, _, body = do(t, "GET", s.base+"/api/v1/repositories/dev/tool/manifests/"+headed.String(), nil, nil)
	if status != http.StatusOK || strings.Contains(string(body), "last_pulled") {
		t.Fatalf("manifest API of the never pulled manifest: %d %s", status, body)
	}
	var never struct {
		PullsTrackedSince  time.Time `json:"pulls_tracked_since"`
		PullsRecordedSince time.Time `json:"pulls_recorded_since"`
	}
	if json.Unmarshal(body, &never) != nil || !never.PullsTrackedSince.Equal(now.Add(-45*24*time.Hour)) ||
		!never.PullsRecordedSince.Equal(never.PullsTrackedSince) { // tracking is younger than the expiry
		t.Errorf("manifest API of the never pulled manifest: pulls tracked since %v, recorded since %v, want the first flush's for both: %s",
			never.PullsTrackedSince, never.PullsRecordedSince, body)
	}
}

// TestPullsTwoReplicasConverge: two replicas sharing the fleet store note
// pulls of the same manifest at different times and flush in either
// order; the record is the later pull.
func TestPullsTwoReplicasConverge(t *testing.T) {
	shared := fleet.NewMemory(0)
	root := filepath.Join(t.TempDir(), "registry")
	now := time.Now().UTC().Truncate(time.Second)
	early, late := &testClock{t: now.Add(-time.Hour)}, &testClock{t: now}
	sameStorage := func(c *config.Config) { c.Storage.Filesystem.RootDirectory = root }
	a := startServer(t, sameStorage, WithFleet(shared), WithPullClock(late.now))
	b := startServer(t, sameStorage, WithFleet(shared), WithPullClock(early.now))
	img, _ := random.Image(512, 1)
	if err := remote.Write(mustRef(t, a.host()+"/team/app:v1"), img); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*testServer{a, b} {
		if _, err := remote.Image(mustRef(t, s.host()+"/team/app:v1")); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*testServer{a, b} { // the later pull first: b's must not move it back
		if _, err := s.pulls.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	d, _ := img.Digest()
	recs, _, err := pulls.Reader{Store: shared}.Lookup(t.Context(), "team/app")
	if err != nil || !recs[d.String()].At.Equal(now) {
		t.Fatalf("record %+v (%v), want the later pull at %v", recs[d.String()], err, now)
	}
}
