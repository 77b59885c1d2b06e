package notify

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
)

// TestRecentDeliveries: a single node keeps the last attempts to each
// endpoint, newest first — failures with the receiver's status and why,
// then the success — bounded to RecentPerEndpoint.
func TestRecentDeliveries(t *testing.T) {
	rcv := newReceiver(t, secret)
	rcv.status.Store(http.StatusServiceUnavailable)
	other := newReceiver(t, secret)
	n, _ := newNotifier(t, filepath.Join(t.TempDir(), "out.db"),
		Endpoint{Name: "ci", URL: rcv.srv.URL, Secret: []byte(secret)},
		Endpoint{Name: "idle", URL: other.srv.URL, Secret: []byte(secret), Events: []Type{UploadFailed}})
	defer n.Close()
	ctx := context.Background()
	n.Publish(ctx, pushRecord("team/app", metadata.StatusAccepted))
	waitFor(t, "two failed attempts", func() bool { _, r, _ := rcv.snapshot(); return r >= 2 })
	rcv.status.Store(http.StatusOK)
	waitFor(t, "the delivery", func() bool { a, _, _ := rcv.snapshot(); return len(a) == 1 })
	var got []Attempt
	waitFor(t, "the success recorded", func() bool {
		got, _ = n.Recent(ctx, "ci")
		return len(got) > 0 && got[0].Outcome == outcomeDelivered
	})
	_, requests, _ := rcv.snapshot()
	if len(got) != requests {
		t.Fatalf("%d attempts recorded, the receiver saw %d requests: %+v", len(got), requests, got)
	}
	last := got[0]
	if last.Status != http.StatusOK || last.Attempt != requests || last.Type != PushAccepted || last.Error != "" ||
		last.Duration <= 0 || time.Since(last.At) > time.Minute {
		t.Errorf("the successful attempt: %+v", last)
	}
	for i, a := range got[1:] {
		if a.Outcome != outcomeRetry || a.Status != http.StatusServiceUnavailable || !strings.Contains(a.Error, "503") ||
			a.EventID != last.EventID || a.Attempt != requests-1-i || a.At.After(got[i].At) {
			t.Errorf("failed attempt %d (newest first): %+v", i+1, a)
		}
	}
	if idle, err := n.Recent(ctx, "idle"); err != nil || len(idle) != 0 {
		t.Errorf("an endpoint sent nothing shows %+v, %v", idle, err)
	}
	if unknown, err := n.Recent(ctx, "nope"); err != nil || unknown != nil {
		t.Errorf("an unknown endpoint shows %+v, %v", unknown, err)
	}
}

// TestRecentSharedAndBounded: with replicas the log is in the fleet store,
// so a replica that sent nothing shows the attempts another made; it keeps
// the newest RecentPerEndpoint, errors cut to maxAttemptError.
func TestRecentSharedAndBounded(t *testing.T) {
	mem := fleet.NewMemory(0)
	rcv := newReceiver(t, secret)
	ep := Endpoint{Name: "ci", URL: rcv.srv.URL, Secret: []byte(secret)}
	a := newReplica(t, mem, "replica-a", time.Second, 3, ep)
	defer a.Close()
	b := newReplica(t, mem, "replica-b", time.Second, 3, Endpoint{Name: "ci", URL: "http://127.0.0.1:1", Secret: []byte(secret)})
	defer b.Close()
	ctx := context.Background()
	const events = RecentPerEndpoint + 5
	for range events {
		a.Publish(ctx, pushRecord("team/app", metadata.StatusAccepted))
	}
	waitFor(t, "every event delivered", func() bool { acked, _, _ := rcv.snapshot(); return len(acked) == events })
	var got []Attempt
	waitFor(t, "the log full", func() bool {
		got, _ = b.Recent(ctx, "ci")
		return len(got) == RecentPerEndpoint
	})
	for _, at := range got {
		if at.Outcome != outcomeDelivered || at.Status != http.StatusNoContent {
			t.Errorf("replica B shows %+v, want A's deliveries", at)
		}
	}
	it, err := mem.Get(ctx, spaceRecent, "ci")
	if err != nil || len(it.Value) > 8<<10 {
		t.Errorf("the shared log: %d bytes, %v; want one small item", len(it.Value), err)
	}
	long := prepend(nil, Attempt{Error: strings.Repeat("x", 10_000)})
	if len(long[0].Error) != maxAttemptError {
		t.Errorf("an error of 10,000 bytes is kept as %d", len(long[0].Error))
	}
}
