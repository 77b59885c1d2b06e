package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/retention"
)

// retentionNow is the clock the retention tests plan at.
var retentionNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// generatedTag is one tag of the generated history.
type generatedTag struct {
	repo, tag string
	image     int // index into the repository's images
	age       time.Duration
}

// retentionHistory is 3 repositories × 100 tags over 8 images each: build-N
// tags, every 10th a release-N, every 7th a semantic version; ages spread
// over 0..120 days, all distinct (so ranks are unambiguous).
func retentionHistory() []generatedTag {
	var out []generatedTag
	for r, repo := range []string{"team/app", "team/web", "dev/tool"} {
		for i := range 100 {
			tag := fmt.Sprintf("build-%d", i)
			switch {
			case i%10 == 3:
				tag = fmt.Sprintf("release-%d", i)
			case i%7 == 5:
				tag = fmt.Sprintf("v1.%d.0", i)
			}
			minutes := (i*53+r*17)%100*1728 + i // 0..~120 days; +i keeps ages distinct
			out = append(out, generatedTag{repo: repo, tag: tag, image: i % 8, age: time.Duration(minutes) * time.Minute})
		}
	}
	return out
}

// expectedDeletions is the oracle: a tag goes when it is no semantic
// version in team/** (immutable), no release-* in team/** (keeptags), not
// among the newest keeplast of its repository, and not within keepdays.
func expectedDeletions(history []generatedTag) map[string]bool {
	out := map[string]bool{}
	for _, g := range history {
		keepLast, keepDays, team := 40, 10, strings.HasPrefix(g.repo, "team/")
		if !team {
			keepLast, keepDays = 0, 10
		}
		newer := 0
		for _, o := range history {
			if o.repo == g.repo && o.age < g.age {
				newer++
			}
		}
		protected := team && (strings.HasPrefix(g.tag, "v1.") || strings.HasPrefix(g.tag, "release-"))
		if !protected && newer >= keepLast && g.age >= time.Duration(keepDays)*24*time.Hour {
			out[g.repo+":"+g.tag] = true
		}
	}
	return out
}

// startRetentionServer pushes history into a server with the retention
// rules the oracle knows, and sets each tag's push time.
func startRetentionServer(t *testing.T, history []generatedTag) (*testServer, map[string][]v1.Image) {
	t.Helper()
	clock := WithRetentionClock(func() time.Time { return retentionNow })
	s := startAuthServerWith(t, []Option{clock}, func(c *config.Config) {
		c.Lifecycle.Immutable = []config.ImmutableRule{{Repositories: "team/**", Tags: []string{lifecycle.Semver}}}
		c.Lifecycle.Retention = []config.RetentionRule{
			{Repositories: "team/**", KeepLast: 40, KeepDays: 10, KeepTags: []string{"release-*"}},
			{Repositories: "dev/**", KeepDays: 10, Untagged: "delete"},
		}
		c.Lifecycle.RetentionMaxDeletions = 100
		c.Lifecycle.Quotas = []config.Quota{{Repositories: "dev/**", Scope: "namespace", MaxBytes: 1 << 30}}
	})
	images := map[string][]v1.Image{}
	root := s.cfg.Storage.Filesystem.RootDirectory
	for _, g := range history {
		if images[g.repo] == nil {
			for range 8 {
				img, _ := random.Image(256, 1)
				images[g.repo] = append(images[g.repo], img)
			}
		}
		ref, _ := name.ParseReference(s.host()+"/"+g.repo+":"+g.tag, name.Insecure)
		if err := remote.Write(ref, images[g.repo][g.image], as("root")); err != nil {
			t.Fatalf("pushing %s:%s: %v", g.repo, g.tag, err)
		}
		link := filepath.Join(root, "docker/registry/v2/repositories", g.repo, "_manifests/tags", g.tag, "current/link")
		at := retentionNow.Add(-g.age)
		if err := os.Chtimes(link, at, at); err != nil {
			t.Fatal(err)
		}
	}
	return s, images
}

// devUsage is the bytes the dev namespace's quota counts.
func devUsage(t *testing.T, s *testServer) int64 {
	t.Helper()
	status, _, body := do(t, http.MethodGet, s.base+"/api/v1/quota?repository=dev/tool", basic("root", testUsers["root"]), nil)
	var u struct {
		UsedBytes int64 `json:"used_bytes"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &u) != nil {
		t.Fatalf("quota of dev: %d %s", status, body)
	}
	return u.UsedBytes
}

func retentionCall(t *testing.T, s *testServer, method, path, user string, out any) int {
	t.Helper()
	status, _, body := do(t, method, s.base+"/api/v1/retention/"+path, basic(user, testUsers[user]), nil)
	if status == http.StatusOK && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, body)
		}
	}
	return status
}

// TestRetentionPlanAndApply generates 300 tags with known push times,
// checks the plan against the oracle (which tags, and why), applies it in
// bounded calls, and checks that exactly the planned tags went, each
// recorded with its reason, immutable and kept tags survive, manifests
// left untagged under untagged: delete are gone, and the next plan is
// empty.
func TestRetentionPlanAndApply(t *testing.T) {
	history := retentionHistory()
	want := expectedDeletions(history)
	s, images := startRetentionServer(t, history)

	var plan retention.Plan
	started := time.Now()
	if st := retentionCall(t, s, "GET", "plan", "root", &plan); st != http.StatusOK {
		t.Fatalf("plan: %d", st)
	}
	planTook := time.Since(started)
	got := map[string]bool{}
	kept := 0
	for _, rp := range plan.Repositories {
		for _, v := range rp.Delete {
			got[rp.Repository+":"+v.Tag] = true
			if v.Clause != lifecycle.ClauseExpired || !strings.Contains(v.Why, "past keepdays") {
				t.Errorf("%s:%s deleted with %s %q", rp.Repository, v.Tag, v.Clause, v.Why)
			}
		}
		for _, v := range rp.Keep {
			kept++
			if strings.HasPrefix(v.Tag, "v1.") && strings.HasPrefix(rp.Repository, "team/") && v.Clause != lifecycle.ClauseImmutable {
				t.Errorf("%s:%s kept as %s, want immutable", rp.Repository, v.Tag, v.Clause)
			}
		}
	}
	if len(got) != len(want) || len(got)+kept != len(history) {
		t.Fatalf("plan deletes %d and keeps %d, want %d of %d", len(got), kept, len(want), len(history))
	}
	for k := range want {
		if !got[k] {
			t.Errorf("%s not planned for deletion", k)
		}
	}
	t.Logf("%d tags in 3 repositories: plan deletes %d, keeps %d", len(history), len(got), kept)
	if len(want) <= 100 {
		t.Fatalf("the history plans %d deletions: too few to need more than one bounded apply", len(want))
	}

	if st := retentionCall(t, s, "GET", "plan", "alice", nil); st != http.StatusForbidden {
		t.Fatalf("alice (no admin) planned: %d", st)
	}
	if st := retentionCall(t, s, "POST", "apply", "alice", nil); st != http.StatusForbidden {
		t.Fatalf("alice (no admin) applied: %d", st)
	}

	devBefore := devUsage(t, s)
	deleted := map[string]retention.Deletion{}
	calls := 0
	started = time.Now()
	for {
		var res retention.Result
		if st := retentionCall(t, s, "POST", "apply", "root", &res); st != http.StatusOK {
			t.Fatalf("apply: %d", st)
		}
		calls++
		if len(res.Deleted) > 100 || len(res.Skipped) != 0 {
			t.Fatalf("apply call %d deleted %d (bound 100), skipped %v", calls, len(res.Deleted), res.Skipped)
		}
		for _, d := range res.Deleted {
			deleted[d.Repository+":"+d.Tag] = d
		}
		if res.Remaining == 0 {
			break
		}
	}
	t.Logf("plan of %d tags took %v; applying %d deletions took %v", len(history), planTook.Round(time.Millisecond),
		len(deleted), time.Since(started).Round(time.Millisecond))
	if calls != (len(want)+99)/100 || len(deleted) != len(want) {
		t.Fatalf("%d calls deleted %d, want %d in %d", calls, len(deleted), len(want), (len(want)+99)/100)
	}

	remaining := map[string]bool{}
	for _, repo := range []string{"team/app", "team/web", "dev/tool"} {
		r, _ := name.NewRepository(s.host()+"/"+repo, name.Insecure)
		tags, err := remote.List(r, as("root"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags {
			remaining[repo+":"+tag] = true
		}
	}
	for _, g := range history {
		k := g.repo + ":" + g.tag
		if remaining[k] == want[k] {
			t.Errorf("%s: remaining %v, planned for deletion %v", k, remaining[k], want[k])
		}
	}

	// dev/** says untagged: delete — a manifest with no tag left is gone;
	// team/** keeps untagged manifests.
	for i, img := range images["dev/tool"] {
		left := false
		for _, g := range history {
			left = left || (g.repo == "dev/tool" && g.image == i && !want[g.repo+":"+g.tag])
		}
		d, _ := img.Digest()
		ref, _ := name.ParseReference(s.host()+"/dev/tool@"+d.String(), name.Insecure)
		_, err := remote.Head(ref, as("root"))
		if (err == nil) != left {
			t.Errorf("dev/tool image %d: stored %v, has a tag left %v", i, err == nil, left)
		}
	}

	// Deleting those manifests went through the registry's deletion path,
	// so the dev namespace's quota usage went down.
	if after := devUsage(t, s); after >= devBefore {
		t.Errorf("dev quota usage %d before apply, %d after: not discharged", devBefore, after)
	}

	recorded, manifestRecords, manifestsDeleted := 0, 0, 0
	for _, d := range deleted {
		if d.ManifestDeleted {
			manifestsDeleted++
		}
	}
	for _, repo := range []string{"team/app", "team/web", "dev/tool"} {
		q := metadata.Query{Repository: repo, Limit: metadata.MaxLimit}
		for {
			page, err := s.Records().List(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range page.Records {
				if rec.Kind == metadata.KindDeleteManifest && rec.Status == metadata.StatusAccepted {
					manifestRecords++
				}
				if rec.Kind != metadata.KindDeleteTag {
					continue
				}
				recorded++
				k := rec.Repository + ":" + rec.Tags[0]
				if d, ok := deleted[k]; !ok || rec.Status != metadata.StatusAccepted || rec.Reason != d.Why ||
					!strings.HasPrefix(rec.Reason, "retention: retention ") || rec.User.Subject != "root" {
					t.Errorf("record of %s: %s %q by %q", k, rec.Status, rec.Reason, rec.User.Subject)
				}
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
	}
	t.Logf("apply: %d calls, %d deleted, %d recorded", calls, len(deleted), recorded)
	if manifestsDeleted == 0 || manifestRecords != manifestsDeleted {
		t.Fatalf("%d manifests deleted, %d manifest deletions recorded", manifestsDeleted, manifestRecords)
	}
	if recorded != len(want) {
		t.Fatalf("%d deletions recorded, want %d", recorded, len(want))
	}

	var after retention.Plan
	retentionCall(t, s, "GET", "plan", "root", &after)
	if after.Deletions() != 0 {
		t.Fatalf("the plan after apply deletes %d", after.Deletions())
	}
	var again retention.Result
	if retentionCall(t, s, "POST", "apply", "root", &again); len(again.Deleted) != 0 || again.Remaining != 0 {
		t.Fatalf("a retried apply did something: %+v", again)
	}
	logged := 0
	for _, l := range s.logs.lines(t) {
		if l["msg"] == "retention deleted a tag" {
			logged++
		}
	}
	if logged != len(want) {
		t.Fatalf("%d deletions logged, want %d", logged, len(want))
	}
}

// TestRetentionPlanFilter: ?repository= narrows the plan; a malformed
// pattern is 400.
func TestRetentionPlanFilter(t *testing.T) {
	var history []generatedTag
	for _, g := range retentionHistory() {
		if strings.HasSuffix(g.tag, "-1") || strings.HasSuffix(g.tag, "-8") || g.tag == "build-60" {
			history = append(history, g)
		}
	}
	s, _ := startRetentionServer(t, history)
	var plan retention.Plan
	if st := retentionCall(t, s, "GET", "plan?repository=dev/**", "root", &plan); st != http.StatusOK {
		t.Fatalf("plan: %d", st)
	}
	if len(plan.Repositories) != 1 || plan.Repositories[0].Repository != "dev/tool" {
		t.Fatalf("filtered plan: %+v", plan.Repositories)
	}
	if st := retentionCall(t, s, "GET", "plan?repository=a/***", "root", nil); st != http.StatusBadRequest {
		t.Fatalf("malformed pattern: %d", st)
	}
}
