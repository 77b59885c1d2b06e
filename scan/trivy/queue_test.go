package trivy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy"
)

// TestQueueStats: a scan waiting for the only worker shows as waiting
// while the other runs, and its wait is counted when it gives up.
func TestQueueStats(t *testing.T) {
	s := openFixture(t, trivy.Options{MaxConcurrent: 1})
	blobs := scantest.NewBlobs()
	blobs.Add(t, scantest.VulnerableImage(t))
	entered, release := make(chan struct{}, 1), make(chan struct{})
	first := scantest.NewTarget(t, "team/first", scantest.VulnerableImage(t), blockingOpener(entered, release, false, blobs))
	errc := make(chan error, 1)
	go func() {
		_, err := s.Scan(t.Context(), first)
		errc <- err
	}()
	<-entered

	ctx, cancel := context.WithCancel(t.Context())
	waited := make(chan error, 1)
	go func() {
		_, err := s.Scan(ctx, blobs.Target(t, "team/second", scantest.CleanImage(t)))
		waited <- err
	}()
	deadline := time.Now().Add(time.Minute)
	for st := s.QueueStats(); st.Waiting != 1; st = s.QueueStats() {
		if time.Now().After(deadline) {
			t.Fatalf("the second scan never waited: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	if st := s.QueueStats(); st.Workers != 1 || st.Running != 1 || st.Waits != 1 {
		t.Errorf("while one scan runs and one waits: %+v, want 1 worker, 1 running, 1 wait done (the first's)", st)
	}
	cancel()
	if err := <-waited; !errors.Is(err, scan.ErrBusy) {
		t.Errorf("second scan: %v, want ErrBusy", err)
	}
	if st := s.QueueStats(); st.Waiting != 0 || st.Waits != 2 || st.WaitSeconds <= 0 {
		t.Errorf("after the second gave up: %+v, want nobody waiting, 2 waits, some time waited", st)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Errorf("first scan: %v", err)
	}
}
