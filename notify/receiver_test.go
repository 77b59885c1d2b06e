package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a webhook receiver for tests: it verifies every request's
// signature, answers with the status its mode dictates, and remembers
// which event ids it acknowledged (answered 2xx) and how often.
type receiver struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server
	// status is what it answers; 0 means 204.
	status atomic.Int32
	// hold, when set, makes requests wait for their context (timeouts).
	hold atomic.Bool
	// serving counts the requests being handled: a request a client has
	// given up on may still be in its handler, and answered by the status
	// set after the client gave up.
	serving atomic.Int32

	mu       sync.Mutex
	acked    map[string]int // event id → acknowledged deliveries
	events   map[string]Event
	requests int
	badSigs  int
	keys     []string // Idempotency-Key of every request
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: []byte(secret), acked: map[string]int{}, events: map[string]Event{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// newReceiverAt is a receiver listening on addr, which refused
// connections until now: an endpoint coming back.
func newReceiverAt(t *testing.T, addr *downAddr, secret string) *receiver {
	r := newReceiver(t, secret)
	r.srv.Close()
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.Listener = addr.listen()
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.serving.Add(1)
	defer r.serving.Add(-1)
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.requests++
	r.keys = append(r.keys, req.Header.Get(HeaderIdempotencyKey))
	if err := Verify(r.secret, req.Header, body, time.Now(), DefaultTolerance); err != nil {
		r.badSigs++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.mu.Unlock()
	if r.hold.Load() {
		<-req.Context().Done()
		return
	}
	status := int(r.status.Load())
	if status == 0 {
		status = http.StatusNoContent
	}
	if status/100 == 2 {
		var ev Event
		if err := json.Unmarshal(body, &ev); err != nil {
			r.t.Errorf("receiver: body is not an event: %v", err)
		}
		r.mu.Lock()
		r.acked[ev.ID]++
		r.events[ev.ID] = ev
		r.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (r *receiver) snapshot() (acked map[string]int, requests, badSigs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	acked = make(map[string]int, len(r.acked))
	for k, v := range r.acked {
		acked[k] = v
	}
	return acked, r.requests, r.badSigs
}

// waitFor polls cond every few milliseconds until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
