package upload

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// status is GET /api/v1/uploads/{id}.
type status struct {
	ID            string `json:"id"`
	Stage         string `json:"stage"`
	BytesReceived int64  `json:"bytes_received"`
	BytesExpected int64  `json:"bytes_expected"`
	Stages        []struct {
		Name       string `json:"name"`
		DurationMS int64  `json:"duration_ms"`
	} `json:"stages"`
	Error  *struct{ Code, Message string } `json:"error"`
	Images []json.RawMessage               `json:"images"`
}

// TestProgress watches an upload with a client-chosen id while its body
// is still being sent: the status, then the event stream to its end.
func TestProgress(t *testing.T) {
	s := start(t, nil)
	archive := gz(t, dockerSave(t, false, saveImage{img: randomImage(t, 256<<10, 4)}))
	const id = "progress-test-0001"
	pr, pw := io.Pipe()
	done := make(chan uploadResult, 1)
	go func() {
		done <- s.upload(t, "/api/v1/uploads", "repository=team/prog&tag=1", pr, http.Header{"Imagegate-Upload-Id": {id}})
	}()
	// Half the body, then wait until the server reports it received.
	half := len(archive) / 2
	if _, err := pw.Write(archive[:half]); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, s, id, func(st status) bool { return st.BytesReceived > 0 })
	if st.Stage != "receiving" || st.ID != id {
		t.Fatalf("status %+v", st)
	}
	events := make(chan []status, 1)
	go func() { events <- readEvents(t, s, id) }()
	if _, err := pw.Write(archive[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-done
	if r.Status != http.StatusCreated || r.UploadID != id || r.OK.UploadID != id {
		t.Fatalf("upload %d %s (id %q)", r.Status, r.Body, r.UploadID)
	}
	evs := <-events
	last := evs[len(evs)-1]
	if last.Stage != "done" || last.BytesReceived != int64(len(archive)) || len(last.Images) != 1 {
		t.Fatalf("last event %+v", last)
	}
	var names []string
	for _, st := range last.Stages {
		names = append(names, st.Name)
	}
	for _, want := range []string{"receiving", "validating", "storing", "recording"} {
		if !slices.Contains(names, want) {
			t.Fatalf("stages %v lack %s", names, want)
		}
	}
	final := getStatus(t, s, id)
	if final.Stage != "done" {
		t.Fatalf("final status %+v", final)
	}
	if resp, err := http.Get(s.url("/api/v1/uploads/unknown-upload-1")); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown upload: %v %v", resp, err)
	}
}

// TestProgressOfAFailure: a refused upload ends in stage failed with the error.
func TestProgressOfAFailure(t *testing.T) {
	s := start(t, nil)
	r := s.upload(t, "/upload-image", "", strings.NewReader("not a tarball at all, sorry"), nil)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	st := getStatus(t, s, r.UploadID)
	if st.Stage != "failed" || st.Error == nil || st.Error.Code != "TARBALL_INVALID" {
		t.Fatalf("status %+v", st)
	}
	evs := readEvents(t, s, r.UploadID)
	if len(evs) != 1 || evs[0].Stage != "failed" {
		t.Fatalf("events %+v", evs)
	}
}

func getStatus(t testing.TB, s *testServer, id string) status {
	t.Helper()
	resp, err := http.Get(s.url("/api/v1/uploads/" + id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st status
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// waitStatus polls the upload's status until cond holds (10 s at most).
func waitStatus(t testing.TB, s *testServer, id string, cond func(status) bool) status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if st := getStatus(t, s, id); st.ID != "" && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload %s: condition not reached", id)
		}
		<-tick.C
	}
}

// readEvents reads the upload's event stream to its end.
func readEvents(t testing.TB, s *testServer, id string) []status {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url("/api/v1/uploads/"+id+"/events"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	var out []status
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var st status
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			t.Errorf("event %q: %v", data, err)
		}
		out = append(out, st)
	}
	if len(out) == 0 {
		t.Error("no events")
	}
	return out
}
