package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

func testPutGet(t *testing.T, s metadata.Store) {
	want := record(1, "team/app", "alice")
	mustPut(t, s, want)
	got, err := s.Get(context.Background(), want.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, got, want)
}

func testGetUnknown(t *testing.T, s metadata.Store) {
	_, err := s.Get(context.Background(), record(1, "a", "b").ID)
	if !isErr(err, metadata.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

func testIdempotentPut(t *testing.T, s metadata.Store) {
	r := record(1, "team/app", "alice")
	mustPut(t, s, r, r, r)
	ids := listAll(t, s, metadata.Query{Repository: "team/app"})
	if len(ids) != 1 {
		t.Fatalf("a retried Put stored %d records", len(ids))
	}
}

func testConflictingPut(t *testing.T, s metadata.Store) {
	r := record(1, "team/app", "alice")
	mustPut(t, s, r)
	other := *r
	other.Status = metadata.StatusRejected
	if err := s.Put(context.Background(), &other); !isErr(err, metadata.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	got, _ := s.Get(context.Background(), r.ID)
	same(t, got, r)
}

func testInvalidRecord(t *testing.T, s metadata.Store) {
	r := record(1, "team/app", "alice")
	r.ID = ""
	if err := s.Put(context.Background(), r); !isErr(err, metadata.ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid", err)
	}
}

func testFinish(t *testing.T, s metadata.Store) {
	ctx := context.Background()
	r := record(1, "team/app", "alice")
	r.Status = metadata.StatusPending
	mustPut(t, s, r)
	at := base.Add(time.Minute)
	fin := metadata.Finish{Status: metadata.StatusAccepted, CommittedAt: at}
	if err := s.Finish(ctx, r.ID, fin); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, r.ID, fin); err != nil {
		t.Fatalf("a retried Finish failed: %v", err)
	}
	got, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *r
	want.Status, want.CommittedAt = metadata.StatusAccepted, &at
	same(t, got, &want)

	if err := s.Finish(ctx, r.ID, metadata.Finish{Status: metadata.StatusFailed, Reason: "x", CommittedAt: at}); !isErr(err, metadata.ErrConflict) {
		t.Fatalf("finishing twice with different outcomes: got %v, want ErrConflict", err)
	}
	if err := s.Finish(ctx, record(2, "a", "b").ID, fin); !isErr(err, metadata.ErrNotFound) {
		t.Fatalf("finishing an unknown record: got %v, want ErrNotFound", err)
	}
}

// testTarUploadArchive: a tar upload's record names the original tarball
// kept in the storage; the reference survives Put, Finish, Get and List.
func testTarUploadArchive(t *testing.T, s metadata.Store) {
	ctx := context.Background()
	r := record(1, "team/app", "alice")
	r.Source, r.Status = metadata.SourceTarUpload, metadata.StatusPending
	r.Storage = metadata.Location{Driver: "s3", Bucket: "registry-bucket", ManifestKey: "registry/blobs/" + r.Digest.Encoded()}
	r.Archive = &metadata.Archive{Bucket: "registry-bucket",
		Key:  "registry/imagegate/archive/images/alice/20261127T174501Z/0b6c6ad5-6f1e-4bde-9d0a-5b2f8e0c7a11.tar.gz",
		Size: 31457984, Digest: fakeDigest("archive")}
	mustPut(t, s, r)
	at := base.Add(time.Minute)
	if err := s.Finish(ctx, r.ID, metadata.Finish{Status: metadata.StatusAccepted, CommittedAt: at}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *r
	want.Status, want.CommittedAt = metadata.StatusAccepted, &at
	same(t, got, &want)
	page, err := s.List(ctx, metadata.Query{Repository: "team/app", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 1 || page.Records[0].Archive == nil || *page.Records[0].Archive != *r.Archive {
		t.Fatalf("List lost the archive reference: %+v", page.Records)
	}
}

// seed puts n records spread over three repositories and two users, in a
// shuffled order, and returns them.
func seed(t *testing.T, s metadata.Store, n int) []*metadata.Record {
	repos := []string{"team/app", "team/db", "other/x"}
	users := []string{"alice", "bob"}
	var rs []*metadata.Record
	for i := range n {
		rs = append(rs, record(i, repos[i%3], users[i%2]))
	}
	order := slices.Clone(rs)
	slices.Reverse(order[n/2:])
	mustPut(t, s, order...)
	return rs
}

// expect returns the ids of rs matching keep, newest first.
func expect(rs []*metadata.Record, keep func(*metadata.Record) bool) []string {
	var ids []string
	for _, r := range rs {
		if keep(r) {
			ids = append(ids, r.ID)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(b, a) })
	return ids
}

func testListByRepositoryPaged(t *testing.T, s metadata.Store) {
	rs := seed(t, s, 40)
	want := expect(rs, func(r *metadata.Record) bool { return r.Repository == "team/app" })
	for _, limit := range []int{1, 3, 7, 100} {
		got := listAll(t, s, metadata.Query{Repository: "team/app", Limit: limit})
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d:\n got %v\nwant %v", limit, got, want)
		}
	}
}

func testListByUser(t *testing.T, s metadata.Store) {
	rs := seed(t, s, 30)
	want := expect(rs, func(r *metadata.Record) bool { return r.User.Subject == "bob" })
	if got := listAll(t, s, metadata.Query{User: "bob", Limit: 4}); !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func testListByDigest(t *testing.T, s metadata.Store) {
	rs := seed(t, s, 12)
	first := rs[3] // in team/app
	// The same manifest pushed again, later, to team/app and to other/x.
	again := record(100, "team/app", "alice")
	again.Digest = first.Digest
	elsewhere := record(101, "other/x", "bob")
	elsewhere.Digest = first.Digest
	mustPut(t, s, again, elsewhere)

	got := listAll(t, s, metadata.Query{Digest: first.Digest, Limit: 2})
	if want := []string{elsewhere.ID, again.ID, first.ID}; !slices.Equal(got, want) {
		t.Fatalf("by digest:\n got %v\nwant %v", got, want)
	}
	got = listAll(t, s, metadata.Query{Digest: first.Digest, Repository: "team/app", Limit: 1})
	if want := []string{again.ID, first.ID}; !slices.Equal(got, want) {
		t.Fatalf("by digest in one repository:\n got %v\nwant %v", got, want)
	}
}

func testListSince(t *testing.T, s metadata.Store) {
	rs := seed(t, s, 20)
	since := base.Add(10 * time.Second)
	want := expect(rs, func(r *metadata.Record) bool { return r.Repository == "team/db" && !r.ReceivedAt.Before(since) })
	if got := listAll(t, s, metadata.Query{Repository: "team/db", Since: since, Limit: 2}); !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func testListAll(t *testing.T, s metadata.Store) {
	rs := seed(t, s, 15)
	want := expect(rs, func(*metadata.Record) bool { return true })
	if got := listAll(t, s, metadata.Query{Limit: 4}); !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func testBadCursor(t *testing.T, s metadata.Store) {
	seed(t, s, 3)
	for _, c := range []string{"not-a-cursor", "%%%", strings.Repeat("A", 5000)} {
		if _, err := s.List(context.Background(), metadata.Query{Repository: "team/app", Cursor: c}); !isErr(err, metadata.ErrInvalid) {
			t.Fatalf("cursor %.20q: got %v, want ErrInvalid", c, err)
		}
	}
	if _, err := s.List(context.Background(), metadata.Query{Limit: -1}); !isErr(err, metadata.ErrInvalid) {
		t.Fatalf("negative limit: got %v", err)
	}
}

// testConcurrentWriters: 50 writers, each putting its records twice (as a
// retrying client would), lose and duplicate nothing.
func testConcurrentWriters(t *testing.T, s metadata.Store) {
	const writers, each = 50, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	var want []string
	for w := range writers {
		var mine []*metadata.Record
		for i := range each {
			r := record(w*each+i, "load/test", fmt.Sprint("user", w))
			mine = append(mine, r)
			want = append(want, r.ID)
		}
		wg.Go(func() {
			for _, r := range append(mine, mine...) {
				if err := s.Put(context.Background(), r); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b string) int { return strings.Compare(b, a) })
	if got := listAll(t, s, metadata.Query{Repository: "load/test", Limit: 37}); !slices.Equal(got, want) {
		t.Fatalf("%d records listed, %d written (or out of order)", len(got), len(want))
	}
}

func testRejectedWithFindings(t *testing.T, s metadata.Store) {
	r := record(1, "prod/api", "ci-bot")
	r.Status, r.Reason = metadata.StatusRejected, `image has 2 vulnerabilities at or above HIGH (policy "prod/**")`
	r.Scan = &metadata.ScanSummary{
		Scanner: "trivy", DBVersion: "2026-11-26", ScannedAt: base, PolicyName: "prod/**", Verdict: "block",
		Counts: map[string]int{"CRITICAL": 1, "HIGH": 1},
		Findings: []metadata.Finding{
			{ID: "CVE-2026-0001", Package: "openssl", InstalledVersion: "3.0.1", FixedVersion: "3.0.9", Severity: "CRITICAL"},
			{ID: "CVE-2026-0002", Package: "zlib", InstalledVersion: "1.2", Severity: "HIGH"},
		},
	}
	r.Analysis = &metadata.AnalysisSummary{
		AnalyzedAt: base, PolicyName: "prod/**", Verdict: "audit:would-refuse", Message: "image wastes 412 MB (38 %)",
		Efficiency: 0.62, WastedBytes: 412_000_000, WastedPercent: 38, ImageBytes: 1_084_000_000,
		TopWaste: []metadata.AnalysisWaste{{Kind: "package-cache", Path: "var/cache/apt", Bytes: 380_000_000, Layer: 2, CreatedBy: "RUN apt-get install -y gcc"}},
	}
	mustPut(t, s, r)
	got, err := s.Get(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, got, r)
}

// testManyLayers stores a record far above DynamoDB's 400 KB item limit
// (3,000 layers with their storage keys) and reads it back whole.
func testManyLayers(t *testing.T, s metadata.Store) {
	r := record(1, "big/image", "alice")
	r.Layers = nil
	r.Storage.BlobKeys = map[string]string{}
	for i := range 3000 {
		d := fakeDigest(fmt.Sprint("many-", i))
		r.Layers = append(r.Layers, metadata.Blob{Digest: d, Size: int64(i), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"})
		r.Storage.BlobKeys[d.String()] = "docker/registry/v2/blobs/sha256/" + d.Encoded()[:2] + "/" + d.Encoded() + "/data"
	}
	r.LayerCount = len(r.Layers)
	mustPut(t, s, r)
	mustPut(t, s, r) // idempotent at this size too
	got, err := s.Get(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, got, r)
	page, err := s.List(context.Background(), metadata.Query{Repository: "big/image"})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("List: %d records, %v", len(page.Records), err)
	}
	same(t, page.Records[0], r)
}

func testCancelled(t *testing.T, s metadata.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := record(1, "team/app", "alice")
	if err := s.Put(ctx, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: got %v", err)
	}
	if _, err := s.Get(context.Background(), r.ID); !isErr(err, metadata.ErrNotFound) {
		t.Fatalf("a cancelled Put stored the record (Get: %v)", err)
	}
	if _, err := s.List(ctx, metadata.Query{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("List with a cancelled context: got %v", err)
	}
}

func testPing(t *testing.T, s metadata.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
