package push

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
)

// newLaggingHarness is a harness whose pipeline records and looks records
// up through a laggingIndex over its bbolt store.
func newLaggingHarness(t *testing.T, lag time.Duration) (*harness, *laggingIndex) {
	t.Helper()
	var l *laggingIndex
	h := newHarness(t, func(o *Options) {
		l = newLaggingIndex(o.Records, lag)
		o.Recorder, o.Records = l, l
	})
	return h, l
}

// indexOf is an OCI index over manifests.
func (h *harness) indexOf(manifests ...[]byte) []byte {
	var descs []v1.Descriptor
	for _, m := range manifests {
		descs = append(descs, v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes(m), Size: int64(len(m))})
	}
	return h.manifest(map[string]any{"schemaVersion": 2, "mediaType": v1.MediaTypeImageIndex, "manifests": descs})
}

func newIndexPush(repo string, index []byte) *Push {
	return &Push{Repository: repo, MediaType: v1.MediaTypeImageIndex, Payload: index, Tags: []string{"v1"},
		Source: metadata.SourceDockerPush}
}

// TestIndexWaitsForLaggingChildRecords: the children of an index are
// pushed and accepted, and the index is pushed at once (docker buildx
// --push); the store's digest index does not show the children's records
// yet. The gate looks again until it does, and accepts the index.
func TestIndexWaitsForLaggingChildRecords(t *testing.T) {
	const lag = 500 * time.Millisecond
	h, l := newLaggingHarness(t, lag)
	ctx := context.Background()
	a, b := h.image("multi/app", "amd64"), h.image("multi/app", "arm64")
	for _, m := range [][]byte{a, b} {
		if err := h.pipeline.Run(ctx, newPush("multi/app", m)); err != nil {
			t.Fatal(err)
		}
	}
	index := h.indexOf(a, b)
	start := time.Now()
	if err := h.pipeline.Run(ctx, newIndexPush("multi/app", index)); err != nil {
		t.Fatalf("index over just-accepted children: %v", err)
	}
	t.Logf("index accepted after %s, %d lookups, %d stale answers", time.Since(start).Round(time.Millisecond), l.lists.Load(), l.stale.Load())
	if l.stale.Load() == 0 {
		t.Fatal("the lagging index never answered stale: the test did not exercise the wait")
	}
	if l.lists.Load() <= 2 {
		t.Fatalf("%d lookups for two children: the gate did not look again", l.lists.Load())
	}
	if h.tag("multi/app", "v1") != digest.FromBytes(index) {
		t.Fatal("the index is not tagged")
	}
}

// TestIndexChildRefusals: a child whose record is final (rejected,
// failed) refuses the index on the first lookup; a child never pushed
// through the gate, or still pending, refuses it once the bounded wait is
// over — not sooner, and not much later.
func TestIndexChildRefusals(t *testing.T) {
	cases := []struct {
		name    string
		record  metadata.Status // the child's record; "" for none
		reason  string
		message string
		waits   bool
	}{
		{"rejected", metadata.StatusRejected, "HIGH: CVE-2025-0001", "which was rejected: HIGH: CVE-2025-0001", false},
		{"failed", metadata.StatusFailed, "", "which was failed", false},
		{"pending", metadata.StatusPending, "", "which is still pending", true},
		{"never gated", "", "", "which was never pushed through the gate", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h, l := newLaggingHarness(t, time.Millisecond)
			ctx := context.Background()
			child := h.storedAround("multi/app", c.name)
			if c.record != "" {
				// Directly in the store, long visible: not through the lag.
				r := &metadata.Record{ID: metadata.NewID(), Kind: metadata.KindPush, Repository: "multi/app",
					Digest: digest.FromBytes(child), ReceivedAt: time.Now().UTC(), Status: c.record, Reason: c.reason}
				if err := h.store.Put(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			err := h.pipeline.Run(ctx, newIndexPush("multi/app", h.indexOf(child)))
			took := time.Since(start)
			t.Logf("refused after %s, %d lookups: %v", took.Round(time.Millisecond), l.lists.Load(), err)
			var e errcode.Error
			if !errors.As(err, &e) || e.Code != errcode.ErrorCodeDenied || !strings.Contains(e.Message, c.message) {
				t.Fatalf("error = %v, want DENIED %q", err, c.message)
			}
			if !c.waits {
				if n := l.lists.Load(); n != 1 {
					t.Fatalf("%d lookups of a child with a final record, want 1", n)
				}
				return
			}
			if took < childWaitTotal || took > childWaitTotal+2*time.Second {
				t.Fatalf("refused after %s, want the bounded wait of %s (plus little)", took, childWaitTotal)
			}
			if n := l.lists.Load(); n < 5 {
				t.Fatalf("%d lookups during the wait, want several", n)
			}
		})
	}
}

// TestIndexWaitEndsWithContext: a client going away ends the wait at once
// with ctx's error, which is no refusal (nothing is recorded rejected).
func TestIndexWaitEndsWithContext(t *testing.T) {
	h, _ := newLaggingHarness(t, time.Millisecond)
	child := h.storedAround("multi/app", "ungated")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	x := newIndexPush("multi/app", h.indexOf(child))
	err := h.pipeline.Run(ctx, x)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want the context's deadline", err)
	}
	if took := time.Since(start); took >= childWaitTotal {
		t.Fatalf("the wait ran %s past the context's end", took)
	}
	if _, refused := asRefusal(err); refused {
		t.Fatal("a wait cut short by the client was answered as a refusal")
	}
}

// storedAround stores an image manifest in repo around the gate (as a
// registry sharing the storage without imagegate would): no record.
func (h *harness) storedAround(repo, seed string) []byte {
	h.t.Helper()
	m := h.image(repo, seed)
	ms, err := h.repo(repo).Manifests(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	parsed, _, err := distribution.UnmarshalManifest(v1.MediaTypeImageManifest, m)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := ms.Put(context.Background(), parsed); err != nil {
		h.t.Fatal(err)
	}
	return m
}
