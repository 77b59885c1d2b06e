package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// testCaller is the subject named by the request's X-Test-User header.
type testCaller string

func (c testCaller) Subject() string        { return string(c) }
func (c testCaller) MayPush(string) bool    { return true }
func (c testCaller) MayPushSomewhere() bool { return true }

type testAuthn struct{}

func (testAuthn) Authenticate(_ http.ResponseWriter, r *http.Request, _ string) (Caller, bool) {
	return testCaller(r.Header.Get("X-Test-User")), true
}

// replica serves the status endpoints of a tracker sharing store.
func replica(t *testing.T, store fleet.Store) (*Tracker, *httptest.Server) {
	tr := NewTracker(8, time.Minute)
	tr.Share(store, nil)
	h := NewHandler(nil, tr, testAuthn{}, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/uploads/{id}", h.ServeStatus)
	mux.HandleFunc("GET /api/v1/uploads/{id}/events", h.ServeEvents)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return tr, srv
}

func getAs(t *testing.T, url, user string) (int, Status) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	req.Header.Set("X-Test-User", user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s Status
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, s
}

// streamAs reads an event stream to its end.
func streamAs(url, user string) ([]Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("X-Test-User", user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []Status
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var s Status
			if err := json.Unmarshal([]byte(data), &s); err != nil {
				return out, err
			}
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

// TestProgressOnAnotherReplica: an upload running on replica a is
// followed through replica b — its status and its event stream to the
// end — by its owner only; its id cannot be taken on b meanwhile.
func TestProgressOnAnotherReplica(t *testing.T) {
	store := fleet.NewMemory(0)
	a, _ := replica(t, store)
	b, srvB := replica(t, store)
	const id = "shared-upload-0001"
	statusURL, eventsURL := srvB.URL+"/api/v1/uploads/"+id, srvB.URL+"/api/v1/uploads/"+id+"/events"

	u, err := a.Start(t.Context(), id, "alice", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(t.Context(), id, "mallory", 10); !errors.Is(err, ErrIDTaken) {
		t.Fatalf("the same id started on another replica: %v, want ErrIDTaken", err)
	}
	var received atomic.Int64
	u.setReceived(received.Load)
	u.SetStage(StageReceiving)
	received.Store(400)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, s := getAs(t, statusURL, "alice")
		if code == http.StatusOK && s.Stage == StageReceiving && s.BytesReceived == 400 && s.BytesExpected == 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica b never showed 400 bytes received: %d %+v", code, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := getAs(t, statusURL, "bob"); code != http.StatusNotFound {
		t.Fatalf("another user read the upload on replica b: %d, want 404", code)
	}
	if code, _ := getAs(t, srvB.URL+"/api/v1/uploads/no-such-upload", "alice"); code != http.StatusNotFound {
		t.Fatalf("an unknown upload: %d, want 404", code)
	}

	type result struct {
		events []Status
		err    error
	}
	streamed := make(chan result, 1)
	go func() {
		evs, err := streamAs(eventsURL, "alice")
		streamed <- result{evs, err}
	}()
	u.SetStage(StageValidating)
	u.SetStage(StageStoring)
	received.Store(1000)
	u.finish([]Image{{Repository: "alice/app", Tags: []string{"1"}}}, "", "")
	u.waitShared(shareFlushWait)

	// Once the owner's replica has answered, every replica shows the end.
	if code, s := getAs(t, statusURL, "alice"); code != http.StatusOK || s.Stage != StageDone || len(s.Images) != 1 || s.BytesReceived != 1000 {
		t.Fatalf("final status on replica b: %d %+v", code, s)
	}
	r := <-streamed
	if r.err != nil || len(r.events) == 0 {
		t.Fatalf("event stream on replica b: %v (%d events)", r.err, len(r.events))
	}
	last := r.events[len(r.events)-1]
	var names []string
	for _, st := range last.Stages {
		names = append(names, st.Name)
	}
	if last.Stage != StageDone || len(last.Images) != 1 || !slices.Equal(names, []string{StageReceiving, StageValidating, StageStoring}) {
		t.Fatalf("last event on replica b: %+v", last)
	}
}

// TestSharedProgressBoundedWrites: while only bytes arrive, an upload's
// shared copy is written about once a second, not once per read.
func TestSharedProgressBoundedWrites(t *testing.T) {
	store := &countingStore{Store: fleet.NewMemory(0)}
	tr := NewTracker(8, time.Minute)
	tr.Share(store, nil)
	u, err := tr.Start(t.Context(), "counted-upload-1", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var received atomic.Int64
	u.setReceived(received.Load)
	u.SetStage(StageReceiving)
	start := time.Now()
	for time.Since(start) < 2500*time.Millisecond {
		received.Add(1)
		u.ping()
		time.Sleep(time.Millisecond)
	}
	u.finish(nil, "", "")
	u.waitShared(shareFlushWait)
	// claim + stage change + ≤ 3 ticks + end
	if n := store.puts.Load(); n > 6 || n < 3 {
		t.Fatalf("%d writes for 2.5 s of receiving, want 3..6", n)
	}
}

// countingStore counts Puts.
type countingStore struct {
	fleet.Store
	puts atomic.Int32
}

func (c *countingStore) Put(ctx context.Context, space, key string, value []byte, expect int64, ttl time.Duration) (int64, error) {
	c.puts.Add(1)
	return c.Store.Put(ctx, space, key, value, expect, ttl)
}
