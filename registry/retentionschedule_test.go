package registry

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
)

// TestRetentionScheduleRunsOnceAcrossReplicas: two replicas with
// lifecycle.retentionschedule sharing storage and the fleet store start
// their schedules together; exactly one applies retention (the lease and
// the done marker), deleting what the plan says, each deletion recorded
// as by the schedule's user; a further trigger within the interval runs
// nothing; once the interval passed (its marker gone) the next run finds
// nothing left to delete.
func TestRetentionScheduleRunsOnceAcrossReplicas(t *testing.T) {
	shared := fleet.NewMemory(0)
	root := filepath.Join(t.TempDir(), "registry")
	now := time.Now().UTC().Truncate(time.Second)
	clock := WithRetentionClock(func() time.Time { return now })
	rules := func(schedule time.Duration) func(*config.Config) {
		return func(c *config.Config) {
			c.Storage.Filesystem.RootDirectory = root
			c.Lifecycle.Retention = []config.RetentionRule{{Repositories: "dev/**", KeepLast: 2}}
			c.Lifecycle.RetentionSchedule = schedule
		}
	}
	pusher := startServer(t, rules(0), WithFleet(shared), clock)
	for i, tag := range []string{"a", "b", "c", "d", "e"} {
		img, _ := random.Image(256, 1)
		pushAged(t, pusher, "dev/tool", tag, img, now.Add(-time.Duration(10-i)*24*time.Hour))
	}
	replicas := []*testServer{
		startServer(t, rules(time.Hour), WithFleet(shared), clock),
		startServer(t, rules(time.Hour), WithFleet(shared), clock),
	}
	runs := func() (n float64) {
		for _, r := range replicas {
			n += testutil.ToFloat64(r.retentionRuns.runs.WithLabelValues("ok")) + testutil.ToFloat64(r.retentionRuns.runs.WithLabelValues("failed"))
		}
		return n
	}
	waitFor(t, 30*time.Second, "a scheduled run", func() bool { return runs() >= 1 })
	for _, r := range replicas { // triggered again within the interval: not due
		if err := r.singletons.runIfDue(t.Context(), retentionLease, time.Hour, r.scheduledRetention); err != nil {
			t.Fatal(err)
		}
	}
	if n := runs(); n != 1 {
		t.Fatalf("%v scheduled runs on two replicas, want 1", n)
	}
	repo, _ := name.NewRepository(pusher.host()+"/dev/tool", name.Insecure)
	left, err := remote.List(repo)
	if err != nil || len(left) != 2 || left[0] != "d" || left[1] != "e" {
		t.Fatalf("tags after the run: %v (%v), want the newest two, d and e", left, err)
	}
	recorded := 0
	for _, r := range replicas {
		page, err := r.Records().List(context.Background(), metadata.Query{Repository: "dev/tool", Limit: metadata.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range page.Records {
			if rec.Kind == metadata.KindDeleteTag {
				recorded++
				if rec.User.Subject != RetentionScheduleUser || rec.Status != metadata.StatusAccepted {
					t.Errorf("deletion of %v recorded %s by %q", rec.Tags, rec.Status, rec.User.Subject)
				}
			}
		}
	}
	if recorded != 3 {
		t.Fatalf("%d deletions recorded, want 3", recorded)
	}

	// The interval passes: its marker expires (removed here).
	it, err := shared.Get(t.Context(), singletonSpace, retentionLease+"/done")
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.Delete(t.Context(), singletonSpace, retentionLease+"/done", it.Version); err != nil {
		t.Fatal(err)
	}
	r := replicas[1]
	if err := r.singletons.runIfDue(t.Context(), retentionLease, time.Hour, r.scheduledRetention); err != nil {
		t.Fatal(err)
	}
	if n := runs(); n != 2 {
		t.Fatalf("%v runs after the interval, want 2", n)
	}
	deleted := 0.0
	for _, r := range replicas {
		deleted += testutil.ToFloat64(r.retentionRuns.deleted)
	}
	if deleted != 3 {
		t.Fatalf("imagegate_retention_deleted_tags_total %v over both replicas, want 3 (the second run finds nothing)", deleted)
	}
	logged := 0
	for _, r := range replicas {
		for _, l := range r.logs.lines(t) {
			if l["msg"] == "scheduled retention applied" {
				logged++
			}
		}
	}
	if logged != 2 {
		t.Fatalf("%d runs logged, want 2", logged)
	}
}
