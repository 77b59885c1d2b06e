// Package storetest is the contract suite every metadata.Store passes, in
// the manner of distribution's storage driver test suites: implementations
// call Run with a constructor of empty stores.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// Factory returns an empty store; the suite closes it.
type Factory func(t *testing.T) metadata.Store

// Run runs the whole contract suite against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, metadata.Store)
	}{
		{"PutGet", testPutGet},
		{"GetUnknown", testGetUnknown},
		{"IdempotentPut", testIdempotentPut},
		{"ConflictingPut", testConflictingPut},
		{"InvalidRecord", testInvalidRecord},
		{"Finish", testFinish},
		{"ListByRepositoryPaged", testListByRepositoryPaged},
		{"ListByUser", testListByUser},
		{"ListByDigest", testListByDigest},
		{"ListSince", testListSince},
		{"ListAll", testListAll},
		{"BadCursor", testBadCursor},
		{"Pending", testPending},
		{"PendingNone", testPendingNone},
		{"PendingOlderThan", testPendingOlderThan},
		{"PendingRepository", testPendingRepository},
		{"PendingPaged", testPendingPaged},
		{"PendingBadQuery", testPendingBadQuery},
		{"PendingCancelled", testPendingCancelled},
		{"ConcurrentWriters", testConcurrentWriters},
		{"RejectedWithFindings", testRejectedWithFindings},
		{"ManyLayers", testManyLayers},
		{"TarUploadArchive", testTarUploadArchive},
		{"Cancelled", testCancelled},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// record returns a complete push record received at base+n seconds.
func record(n int, repo, user string) *metadata.Record {
	at := base.Add(time.Duration(n) * time.Second)
	id := idAt(at, n)
	d := fakeDigest(fmt.Sprintf("manifest-%s-%d", repo, n))
	layer := metadata.Blob{Digest: fakeDigest(fmt.Sprint("layer", n)), Size: 1000 + int64(n), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}
	cfg := metadata.Blob{Digest: fakeDigest(fmt.Sprint("config", n)), Size: 300, MediaType: "application/vnd.oci.image.config.v1+json"}
	return &metadata.Record{
		ID: id, Kind: metadata.KindPush, Repository: repo, Tags: []string{fmt.Sprintf("v%d", n)},
		Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Platforms: []metadata.Platform{{OS: "linux", Architecture: "amd64"}},
		Size:      500 + cfg.Size + layer.Size, LayerCount: 1, Config: &cfg, Layers: []metadata.Blob{layer},
		ReceivedAt: at,
		User:       metadata.User{Subject: user, Method: "password", Roles: []string{"developer"}},
		ClientIP:   "192.0.2.10", UserAgent: "docker/27.0", RequestID: fmt.Sprint("req-", n),
		Source: metadata.SourceDockerPush,
		Storage: metadata.Location{Driver: "filesystem", Root: "/data", ManifestKey: "blobs/" + d.Encoded(),
			BlobKeys: map[string]string{layer.Digest.String(): "blobs/" + layer.Digest.Encoded()}},
		Status: metadata.StatusAccepted,
	}
}

// idAt returns a UUIDv7-shaped id for time at, unique by n.
func idAt(at time.Time, n int) string {
	floor := metadata.IDFloor(at)
	return fmt.Sprintf("%s%012x", floor[:24], n)
}

func fakeDigest(s string) digest.Digest {
	return digest.NewDigestFromBytes(digest.SHA256, sha256Sum(s))
}

func sha256Sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// same compares two records by their JSON form (times in UTC).
func same(t *testing.T, got, want *metadata.Record) {
	t.Helper()
	g, w := canonical(got), canonical(want)
	if g != w {
		t.Fatalf("record differs:\n got %s\nwant %s", g, w)
	}
}

func canonical(r *metadata.Record) string {
	c := *r
	c.ReceivedAt = c.ReceivedAt.UTC()
	if c.CommittedAt != nil {
		at := c.CommittedAt.UTC()
		c.CommittedAt = &at
	}
	if c.Scan != nil {
		s := *c.Scan
		s.ScannedAt = s.ScannedAt.UTC()
		c.Scan = &s
	}
	b, _ := json.Marshal(&c)
	return string(b)
}

func mustPut(t *testing.T, s metadata.Store, rs ...*metadata.Record) {
	t.Helper()
	for _, r := range rs {
		if err := s.Put(context.Background(), r); err != nil {
			t.Fatalf("Put %s: %v", r.ID, err)
		}
	}
}

// listAll pages through q and returns the ids in order.
func listAll(t *testing.T, s metadata.Store, q metadata.Query) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("List never returned an empty cursor")
		}
		page, err := s.List(context.Background(), q)
		if err != nil {
			t.Fatalf("List %+v: %v", q, err)
		}
		if q.Limit > 0 && len(page.Records) > q.Limit {
			t.Fatalf("page of %d records, limit %d", len(page.Records), q.Limit)
		}
		for _, r := range page.Records {
			if seen[r.ID] {
				t.Fatalf("record %s returned twice", r.ID)
			}
			seen[r.ID] = true
			ids = append(ids, r.ID)
		}
		if page.Next == "" {
			return ids
		}
		q.Cursor = page.Next
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }
