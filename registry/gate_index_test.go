package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
)

// TestIndexNeedsChildrenThatPassed: an index is refused when one of its
// children's latest push record is not accepted — here a child whose
// re-push was rejected after it had once passed.
func TestIndexNeedsChildrenThatPassed(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		// Scanning on (audit, no scanner: scans fail and are accepted), so
		// the index check applies.
		c.Scan.Policies = []config.ScanPolicy{{Repositories: "**", Mode: "audit", Severity: "HIGH", OnError: "accept"}}
	})
	idx, _ := random.Index(256, 1, 2)
	ref, _ := name.ParseReference(s.host()+"/idx/app:v1", name.Insecure)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("index whose children passed: %v", err)
	}
	m, _ := idx.IndexManifest()
	child := m.Manifests[1].Digest
	rejected := &metadata.Record{
		ID: metadata.NewID(), Kind: metadata.KindPush, Repository: "idx/app", Digest: digest.Digest(child.String()),
		ReceivedAt: time.Now().UTC(), Status: metadata.StatusRejected, Reason: "image has 1 vulnerability at or above HIGH",
	}
	if err := s.store.Put(context.Background(), rejected); err != nil {
		t.Fatal(err)
	}
	ref2, _ := name.ParseReference(s.host()+"/idx/app:v2", name.Insecure)
	err := remote.WriteIndex(ref2, idx)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden ||
		!strings.Contains(terr.Errors[0].Message, "which was rejected: image has 1 vulnerability") {
		t.Fatalf("index with a rejected child: %v", err)
	}
	if _, err := remote.Head(ref2); !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
		t.Fatalf("the refused index was tagged: %v", err)
	}
}
