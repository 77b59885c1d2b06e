package fleet

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// hookReceiver is a webhook endpoint that every replica posts to (each
// with ?replica=N in its URL, so the receiver knows who delivered). It
// holds the first delivery it gets open until the request ends (the
// sender dies) and records every delivery.
type hookReceiver struct {
	URL string

	mu         sync.Mutex
	deliveries []delivery
	held       chan delivery // receives the first delivery, once
	holding    bool
}

// delivery is one POST the receiver got.
type delivery struct {
	Replica string // the replica's number, from its endpoint URL
	Key     string // Idempotency-Key: the event's id
	Type    string // Ce-Type
}

// newHookReceiver starts a receiver; it stops when the test ends.
func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{held: make(chan delivery, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := delivery{Replica: r.URL.Query().Get("replica"), Key: r.Header.Get("Idempotency-Key"), Type: r.Header.Get("Ce-Type")}
		h.mu.Lock()
		h.deliveries = append(h.deliveries, d)
		first := !h.holding
		h.holding = true
		h.mu.Unlock()
		// Read the body first: only then does the server watch the
		// connection and end the request's context when the sender dies.
		_, _ = io.Copy(io.Discard, r.Body)
		if first {
			h.held <- d
			<-r.Context().Done() // held until the sender is gone
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

// waitDelivery waits (bounded) for a delivery of the event key by another
// replica than notBy, and returns it.
func (h *hookReceiver) waitDelivery(t *testing.T, key, notBy string, timeout time.Duration) (delivery, bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for _, d := range h.deliveries {
			if d.Key == key && d.Replica != notBy {
				h.mu.Unlock()
				return d, true
			}
		}
		h.mu.Unlock()
		select {
		case <-t.Context().Done():
			return delivery{}, false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return delivery{}, false
}

// notificationsYAML is replica i's notifications: section: one endpoint,
// named alike on every replica, for accepted pushes to hook/**, retried
// quickly.
func notificationsYAML(h *hookReceiver, i int) string {
	return fmt.Sprintf(`notifications:
  backoff:
    initial: 100ms
    max: 1s
  endpoints:
    - name: fleet-hook
      url: %q
      events: [push.accepted]
      repositories: ["hook/**"]
`, fmt.Sprintf("%s/hook?replica=%d", h.URL, i+1))
}
