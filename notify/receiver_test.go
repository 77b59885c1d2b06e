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

	mu       sync.Mutex
	acked    map[string]int // event id → acknowledged deliveries
	events   map[string]Event
	requests int
	badSigs  int
	keys     []string // Idempotency-Key of every request
	// refused lists, by URL path (a replica's own endpoint URL), the
	// events answered 503 there whatever status says (an empty set: all);
	// refusals are those requests, in the order they came.
	refused  map[string]map[string]bool
	refusals []refusal
}

// refusal is a request the receiver refused because of refuse.
type refusal struct {
	path, eventID string
	at            time.Time
}

// refuse answers 503 to the events ids (none: every event) sent to path,
// from now on and whatever status says. A request a replica sent may
// reach the handler any time later on a loaded machine, so a replica's
// requests that must not be acknowledged are told apart by the URL that
// replica was given, not by when they arrive.
func (r *receiver) refuse(path string, ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refused == nil {
		r.refused = map[string]map[string]bool{}
	}
	set := map[string]bool{}
	for _, id := range ids {
		set[id] = true
	}
	r.refused[path] = set
}

// refusalsAt returns the refused requests to path.
func (r *receiver) refusalsAt(path string) []refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []refusal
	for _, f := range r.refusals {
		if f.path == path {
			out = append(out, f)
		}
	}
	return out
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
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("receiver: body is not an event: %v", err)
	}
	if set, ok := r.refused[req.URL.Path]; ok && (len(set) == 0 || set[ev.ID]) {
		r.refusals = append(r.refusals, refusal{path: req.URL.Path, eventID: ev.ID, at: time.Now()})
		r.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
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
