package shim

import (
	"errors"
	"testing"
	"time"
)

// TestTrackerBounds: ids are unique, ended uploads expire after the
// retention or make room when full, running ones are never dropped.
func TestTrackerBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := NewTracker(2, time.Minute)
	tr.now = func() time.Time { return now }
	a, err := tr.Start(t.Context(), "upload-aaaa", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(t.Context(), "upload-aaaa", "", 10); !errors.Is(err, ErrIDTaken) {
		t.Fatalf("same id: %v", err)
	}
	if _, err := tr.Start(t.Context(), "upload-bbbb", "", 10); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(t.Context(), "upload-cccc", "", 10); !errors.Is(err, ErrTrackerFull) {
		t.Fatalf("full of running uploads: %v", err)
	}
	a.SetStage(StageReceiving)
	now = now.Add(time.Second)
	a.finish(nil, "", "")
	if _, err := tr.Start(t.Context(), "upload-cccc", "", 10); err != nil {
		t.Fatalf("an ended upload should make room: %v", err)
	}
	if _, ok := tr.Get("upload-aaaa"); ok {
		t.Fatal("the oldest ended upload is still there")
	}
	c, _ := tr.Get("upload-cccc")
	c.finish(nil, "TARBALL_INVALID", "bad")
	now = now.Add(2 * time.Minute)
	if _, ok := tr.Get("upload-cccc"); ok {
		t.Fatal("an upload ended past the retention is still there")
	}
	if _, ok := tr.Get("upload-bbbb"); !ok {
		t.Fatal("a running upload was dropped")
	}
}

// TestUploadStages: stage timings close as the next stage starts, and
// readers are woken at each change.
func TestUploadStages(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := NewTracker(4, time.Minute)
	tr.now = func() time.Time { return now }
	u, _ := tr.Start(t.Context(), "upload-dddd", "alice", 100)
	_, changed := u.Snapshot()
	u.SetStage(StageReceiving)
	select {
	case <-changed:
	default:
		t.Fatal("no wake-up on a stage change")
	}
	now = now.Add(1500 * time.Millisecond)
	u.SetStage(StageValidating)
	now = now.Add(500 * time.Millisecond)
	u.finish([]Image{{Repository: "alice/app"}}, "", "")
	s, _ := u.Snapshot()
	if s.Stage != StageDone || len(s.Stages) != 2 || s.Stages[0].DurationMS != 1500 || s.Stages[1].DurationMS != 500 ||
		len(s.Images) != 1 || u.Owner() != "alice" || s.BytesExpected != 100 {
		t.Fatalf("status %+v", s)
	}
}
