package notify

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/metadata"
)

// TestBacklogMetrics: while an endpoint is unreachable its deliveries pile
// up and the oldest ages; once it answers, the backlog is empty again.
func TestBacklogMetrics(t *testing.T) {
	addr := newDownAddr(t)
	n, reg := newNotifier(t, filepath.Join(t.TempDir(), "out.db"),
		Endpoint{Name: "ci", URL: "http://" + addr.String() + "/hook", Secret: []byte(secret)})
	defer n.Close()
	for i := range 3 {
		n.Publish(context.Background(), pushRecord(fmt.Sprintf("team/r%d", i), metadata.StatusAccepted))
	}
	if got := gathered(t, reg, "imagegate_notifications_queued"); got != 3 {
		t.Errorf("queued %v with the endpoint down, want 3", got)
	}
	waitFor(t, "the oldest delivery to age", func() bool { return gathered(t, reg, "imagegate_notifications_oldest_queued_seconds") > 0 })
	newReceiverAt(t, addr, secret)
	waitFor(t, "the backlog to drain", func() bool {
		return gathered(t, reg, "imagegate_notifications_queued") == 0 && gathered(t, reg, "imagegate_notifications_oldest_queued_seconds") == 0
	})
}

// gathered is the value of the one series of name (endpoint "ci") in reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}
