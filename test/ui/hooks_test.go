package ui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// hookReceiver is a webhook endpoint for the status page: it answers 503
// to the first delivery of each event and 204 to the next, so that the
// page has failed and successful attempts to show.
type hookReceiver struct {
	srv *httptest.Server

	mu        sync.Mutex
	seen      map[string]int // event id → requests
	delivered chan struct{}  // closed at the first 204
	once      sync.Once
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{seen: map[string]int{}, delivered: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Idempotency-Key")
		h.mu.Lock()
		h.seen[id]++
		first := h.seen[id] == 1
		h.mu.Unlock()
		if first {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		h.once.Do(func() { close(h.delivered) })
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// hookName is the endpoint's name in the server's configuration.
const hookName = "ci"

// notificationsYAML sends every event to h, retrying after 50 ms.
func (h *hookReceiver) notificationsYAML(dir string) string {
	return fmt.Sprintf(`notifications:
  outbox: %q
  endpoints:
    - name: %s
      url: %s/hooks/imagegate?token=not-shown
      secret: a-long-random-secret-for-tests
  backoff:
    initial: 50ms
    max: 100ms
`, dir+"/outbox.db", hookName, h.srv.URL)
}
