package registry

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/config"
)

// TestPullsRecordedSinceAfterExpiry: once pull tracking is older than
// lifecycle.pulls.expiry, a manifest without a recorded pull may have
// been pulled before its record expired: the tags listing and the
// manifest's details say since when a pull would be recorded
// (pulls_recorded_since, now minus the expiry), not only when tracking
// began, so that no one words it "never pulled".
func TestPullsRecordedSinceAfterExpiry(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	clock := &testClock{t: now.Add(-200 * 24 * time.Hour)}
	s := startServer(t, func(c *config.Config) {
		c.Lifecycle.Pulls.FlushInterval = time.Hour // the test flushes
		c.Lifecycle.Pulls.Expiry = 90 * 24 * time.Hour
	}, WithPullClock(clock.now))
	if _, err := s.pulls.Flush(t.Context()); err != nil { // tracking begins 200 days before now
		t.Fatal(err)
	}
	clock.set(now)
	img, _ := random.Image(256, 1)
	if err := remote.Write(mustRef(t, s.host()+"/dev/tool:v1"), img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	type coverage struct {
		TrackedSince  time.Time `json:"pulls_tracked_since"`
		RecordedSince time.Time `json:"pulls_recorded_since"`
	}
	began, recorded := now.Add(-200*24*time.Hour), now.Add(-90*24*time.Hour)
	for _, path := range []string{"/api/v1/repositories/dev/tool/tags", "/api/v1/repositories/dev/tool/manifests/" + d.String()} {
		status, _, body := do(t, "GET", s.base+path, nil, nil)
		var c coverage
		if status != http.StatusOK || json.Unmarshal(body, &c) != nil {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		if !c.TrackedSince.Equal(began) || !c.RecordedSince.Equal(recorded) {
			t.Errorf("%s: tracked since %v, recorded since %v; want %v and %v (now minus the expiry): %s",
				path, c.TrackedSince, c.RecordedSince, began, recorded, body)
		}
	}
}
