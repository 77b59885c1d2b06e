package gc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeTags is a fake TagService: tags named "gone…" are unknown, "bad…"
// fail; the others name the digest of their name. It records the most
// reads in flight at once; each read waits until tagReads of them were
// in flight (a reader with less concurrency fails when its context ends).
type fakeTags struct {
	distribution.TagService
	inFlight, most atomic.Int32
	reached        chan struct{}
	once           sync.Once
}

func (f *fakeTags) Get(ctx context.Context, tag string) (v1.Descriptor, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for m := f.most.Load(); n > m && !f.most.CompareAndSwap(m, n); m = f.most.Load() {
	}
	if n == tagReads {
		f.once.Do(func() { close(f.reached) })
	}
	select { // hold this read until as many as allowed are in flight
	case <-f.reached:
	case <-ctx.Done():
		return v1.Descriptor{}, ctx.Err()
	}
	switch {
	case strings.HasPrefix(tag, "gone"):
		return v1.Descriptor{}, distribution.ErrTagUnknown{Tag: tag}
	case strings.HasPrefix(tag, "bad"):
		return v1.Descriptor{}, errors.New("storage unavailable")
	}
	return v1.Descriptor{Digest: digest.FromString(tag)}, nil
}

// TestReadTags: tags are read tagReads at once, a deleted tag is left
// out, and a failure is an error naming the tag (never "untagged").
func TestReadTags(t *testing.T) {
	var tags []string
	for i := range 100 {
		tags = append(tags, fmt.Sprintf("t%d", i))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	f := &fakeTags{reached: make(chan struct{})}
	got, err := readTags(ctx, "team/app", f, append(tags, "gone1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(tags) {
		t.Fatalf("read %d tags, want %d", len(got), len(tags))
	}
	for _, tag := range tags {
		if got[tag] != digest.FromString(tag) {
			t.Fatalf("tag %s: %s", tag, got[tag])
		}
	}
	if m := f.most.Load(); m != tagReads {
		t.Fatalf("%d reads in flight at most, want %d", m, tagReads)
	}

	f = &fakeTags{reached: make(chan struct{})}
	_, err = readTags(ctx, "team/app", f, append(tags, "bad1"))
	if err == nil || !strings.Contains(err.Error(), "team/app:bad1") {
		t.Fatalf("a failing tag read gave %v", err)
	}
}
