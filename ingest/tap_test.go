package ingest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
)

// recordingTap is an observation fake: it keeps every sink it began and
// what each was told.
type recordingTap struct {
	mu    sync.Mutex
	sinks []*recordingSink
}

func (t *recordingTap) Begin(context.Context) TapSink {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &recordingSink{}
	t.sinks = append(t.sinks, s)
	return s
}

func (t *recordingTap) all() []*recordingSink {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*recordingSink(nil), t.sinks...)
}

type recordingSink struct {
	mu         sync.Mutex
	buf        bytes.Buffer
	ended      int
	discarded  int
	committed  []digest.Digest
	afterClose bool // a call after Commit or Discard
}

func (s *recordingSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterClose = s.afterClose || s.discarded > 0 || len(s.committed) > 0
	return s.buf.Write(p)
}

func (s *recordingSink) End() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended++
	return nil
}

func (s *recordingSink) Commit(_ context.Context, blob digest.Digest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterClose = s.afterClose || s.discarded > 0 || len(s.committed) > 0
	s.committed = append(s.committed, blob)
	return nil
}

func (s *recordingSink) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterClose = s.afterClose || s.discarded > 0 || len(s.committed) > 0
	s.discarded++
}

// state is what s was told: the bytes, End calls, the commits and discards.
func (s *recordingSink) state() ([]byte, int, []digest.Digest, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes()), s.ended, s.committed, s.discarded, s.afterClose
}

// TestTapSeesOneBodyUploads: an upload sent in one body — a monolithic
// PUT, or one PATCH then an empty PUT — goes through the tap whole and is
// committed to it under the digest distribution verified; nothing else
// is: a digest that does not match, a second PATCH, a cancelled upload.
func TestTapSeesOneBodyUploads(t *testing.T) {
	data := randomBytes(21, 3*chunkSize+511)
	good := digestOf(data)
	wrong := digestOf([]byte("something else"))
	cases := []struct {
		name    string
		send    func(t *testing.T, reg *testRegistry, loc string) int // the last status
		want    int                                                   // its status
		commit  bool                                                  // the sink committed as good
		tapSees []byte                                                // what the sink got (nil: no sink)
	}{
		{"monolithic PUT", func(t *testing.T, reg *testRegistry, loc string) int {
			return reg.put(t, loc, good, data).status
		}, http.StatusCreated, true, data},
		{"PATCH then empty PUT", func(t *testing.T, reg *testRegistry, loc string) int {
			resp := reg.patch(t, loc, -1, data)
			return reg.put(t, resp.header.Get("Location"), good, nil).status
		}, http.StatusCreated, true, data},
		{"digest mismatch, monolithic", func(t *testing.T, reg *testRegistry, loc string) int {
			return reg.put(t, loc, wrong, data).status
		}, http.StatusBadRequest, false, data},
		{"digest mismatch after a PATCH", func(t *testing.T, reg *testRegistry, loc string) int {
			resp := reg.patch(t, loc, -1, data)
			return reg.put(t, resp.header.Get("Location"), wrong, nil).status
		}, http.StatusBadRequest, false, data},
		{"two PATCHes", func(t *testing.T, reg *testRegistry, loc string) int {
			resp := reg.patch(t, loc, 0, data[:chunkSize])
			resp = reg.patch(t, resp.header.Get("Location"), chunkSize, data[chunkSize:])
			return reg.put(t, resp.header.Get("Location"), good, nil).status
		}, http.StatusCreated, false, data[:chunkSize]},
		{"PATCH, then the last bytes in the PUT", func(t *testing.T, reg *testRegistry, loc string) int {
			resp := reg.patch(t, loc, 0, data[:chunkSize])
			return reg.put(t, resp.header.Get("Location"), good, data[chunkSize:]).status
		}, http.StatusCreated, false, data[:chunkSize]},
		{"cancelled", func(t *testing.T, reg *testRegistry, loc string) int {
			resp := reg.patch(t, loc, -1, data)
			return reg.do(t, http.MethodDelete, resp.header.Get("Location"), nil, nil).status
		}, http.StatusNoContent, false, data},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tap := &recordingTap{}
			reg := newTestRegistry(t, "ingest", WithTap(tap))
			if got := tc.send(t, reg, reg.start(t, "test/tap")); got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
			sinks := tap.all()
			if len(sinks) != 1 {
				t.Fatalf("%d sinks begun, want 1 (for the body at offset 0)", len(sinks))
			}
			got, ended, committed, discarded, after := sinks[0].state()
			if !bytes.Equal(got, tc.tapSees) || after {
				t.Fatalf("the sink got %d bytes (want %d), calls after its end: %v", len(got), len(tc.tapSees), after)
			}
			if tc.commit {
				if ended != 1 || len(committed) != 1 || committed[0].String() != good || discarded != 0 {
					t.Fatalf("ended %d, committed %v, discarded %d: want ended and committed once as %s", ended, committed, discarded, good)
				}
				if reg.in.taps.committed.Load() != 1 {
					t.Fatalf("%d taps committed", reg.in.taps.committed.Load())
				}
				return
			}
			if len(committed) != 0 || discarded != 1 {
				t.Fatalf("committed %v, discarded %d: want discarded once, never committed", committed, discarded)
			}
		})
	}
}

// TestTapsAreBounded (attack: uploads that PATCH a layer and never PUT,
// each leaving a sink to hold): at most maxTaps sinks are held; the next
// upload's evicts the oldest, which is discarded and never committed.
func TestTapsAreBounded(t *testing.T) {
	tap := &recordingTap{}
	reg := newTestRegistry(t, "ingest", WithTap(tap))
	var locs []string
	for i := range maxTaps + 1 {
		resp := reg.patch(t, reg.start(t, "test/bounded"), -1, randomBytes(uint64(30+i), 1000))
		if resp.status != http.StatusAccepted {
			t.Fatalf("PATCH %d: %d %s", i, resp.status, resp.body)
		}
		locs = append(locs, resp.header.Get("Location"))
	}
	sinks := tap.all()
	if _, _, _, discarded, _ := sinks[0].state(); discarded != 1 {
		t.Fatalf("the oldest sink was discarded %d times, want once", discarded)
	}
	for i, s := range sinks[1:] {
		if _, _, _, discarded, _ := s.state(); discarded != 0 {
			t.Fatalf("sink %d was discarded", i+1)
		}
	}
	if resp := reg.put(t, locs[0], digestOf(randomBytes(30, 1000)), nil); resp.status != http.StatusCreated {
		t.Fatalf("PUT of the evicted upload: %d %s", resp.status, resp.body)
	}
	if _, _, committed, _, _ := sinks[0].state(); len(committed) != 0 {
		t.Fatal("an evicted sink was committed")
	}
}

// signallingTap is a recordingTap that says when it began a sink.
type signallingTap struct {
	recordingTap
	begun chan struct{}
}

func (t *signallingTap) Begin(ctx context.Context) TapSink {
	s := t.recordingTap.Begin(ctx)
	t.begun <- struct{}{}
	return s
}

// stalled is a PATCH whose body is sent through a pipe and held open.
type stalled struct {
	body   *io.PipeWriter
	status chan int
}

// stallUpload starts a PATCH to a new upload of repo, sends first and
// keeps the body open until the test closes body (or ends); status gets
// the answer (0 when the request failed).
func stallUpload(t *testing.T, reg *testRegistry, repo string, first []byte) stalled {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPatch, reg.start(t, repo), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	s := stalled{body: pw, status: make(chan int, 1)}
	t.Cleanup(func() { pw.Close() }) // before the server's: it waits for the request
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			s.status <- 0
			return
		}
		resp.Body.Close()
		s.status <- resp.StatusCode
	}()
	if _, err := pw.Write(first); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTapsAreBoundedWhileCopied (attack: a pusher opens many uploads at
// once and stalls their bodies, so that each tap holds its decoder and
// its growing index for as long as it likes): at most maxTaps uploads
// are tapped while their bodies are copied; the next ones are copied
// untapped, and every upload is stored.
func TestTapsAreBoundedWhileCopied(t *testing.T) {
	tap := &signallingTap{begun: make(chan struct{}, 2*maxTaps)}
	reg := newTestRegistry(t, "ingest", WithTap(tap))
	var bodies []stalled
	for i := range maxTaps {
		s := stallUpload(t, reg, "test/stalled", randomBytes(uint64(40+i), 1000))
		<-tap.begun
		bodies = append(bodies, s)
	}
	for i := range 2 {
		data := randomBytes(uint64(50+i), 1000)
		if resp := reg.patch(t, reg.start(t, "test/more"), -1, data); resp.status != http.StatusAccepted {
			t.Fatalf("upload %d past the bound: %d %s", maxTaps+i+1, resp.status, resp.body)
		}
	}
	if n := len(tap.all()); n != maxTaps {
		t.Fatalf("%d uploads tapped while %d were copied, want %d", n, maxTaps, maxTaps)
	}
	for i, s := range bodies {
		s.body.Close()
		if status := <-s.status; status != http.StatusAccepted {
			t.Fatalf("stalled upload %d: %d", i, status)
		}
	}
}
