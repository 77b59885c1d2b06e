package recorder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/internal/testutil/s3test"
	"github.com/imagegate/imagegate/metadata"
	_ "github.com/imagegate/imagegate/storagedriver/s3" // registers the s3 driver
)

// syncBuffer collects a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fsDriver is distribution's filesystem driver over a fresh directory.
func fsDriver(t *testing.T) (storagedriver.StorageDriver, string) {
	root := t.TempDir()
	return filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 100}), root
}

// s3Driver is imagegate's S3 driver on a fresh bucket of the S3 test
// server (IMAGEGATE_TEST_S3_ENDPOINT, scripts/seaweedfs.sh), or skips.
func s3Driver(t *testing.T) storagedriver.StorageDriver {
	admin, bucket, endpoint := s3test.Bucket(t, "ig-recorder-outbox-")
	ctx := context.Background()
	d, err := factory.Create(ctx, "s3", map[string]any{
		"bucket": bucket, "region": s3test.Region, "regionendpoint": endpoint, "forcepathstyle": true,
		"accesskey": s3test.AccessKey, "secretkey": s3test.SecretKey, "rootdirectory": "/reg",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Delete(ctx, "/imagegate"); err != nil && !errors.As(err, new(storagedriver.PathNotFoundError)) {
			t.Errorf("emptying bucket %s: %v", bucket, err)
		}
		if _, err := admin.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Errorf("deleting bucket %s: %v", bucket, err)
		}
	})
	return d
}

// newReplica is a fail-open recorder whose outbox is in d, shared with the
// other replicas of a test (and their replay lease in lease, when set).
func newReplica(t *testing.T, s metadata.Store, d storagedriver.StorageDriver, lease fleet.Store, owner string, logs *syncBuffer) *Recorder {
	t.Helper()
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	r, err := New(s, Options{Mode: FailOpen, Storage: d, Fleet: lease, Owner: owner, Poll: 20 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// queuePushes records n pushes through r while the store is down: each
// a pending Put, then its Finish, both queued.
func queuePushes(t *testing.T, r *Recorder, n int, repo string) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for range n {
		x := &metadata.Record{ID: metadata.NewID(), Kind: metadata.KindPush, Repository: repo, Status: metadata.StatusPending}
		ids = append(ids, x.ID)
		if err := r.Put(ctx, x); err != nil {
			t.Fatalf("fail-open Put: %v", err)
		}
		if err := r.Finish(ctx, x.ID, metadata.Finish{Status: metadata.StatusAccepted, CommittedAt: time.Now().UTC()}); err != nil {
			t.Fatalf("Finish: %v", err)
		}
	}
	return ids
}

// assertAllRecorded: every id is stored once, accepted, and nothing is
// left pending in repo.
func assertAllRecorded(t *testing.T, s metadata.Store, repo string, ids []string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		got, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("record %s lost: %v", id, err)
		}
		if got.Status != metadata.StatusAccepted {
			t.Errorf("record %s is %s, want accepted", id, got.Status)
		}
	}
	page, err := s.List(ctx, metadata.Query{Repository: repo, Limit: 1000})
	if err != nil || len(page.Records) != len(ids) {
		t.Fatalf("%d records stored in %s (%v), want %d", len(page.Records), repo, err, len(ids))
	}
	pend, err := s.Pending(ctx, metadata.PendingQuery{Repository: repo})
	if err != nil || len(pend.Records) != 0 {
		t.Fatalf("%d records stuck pending (%v)", len(pend.Records), err)
	}
}

// testReplicaDropped: recorder A queues records in the shared outbox while
// the store is down and is dropped; recorder B, on the same storage,
// replays them once the store is back — each record once, none pending.
func testReplicaDropped(t *testing.T, d storagedriver.StorageDriver, ops func() int) {
	s := newFlaky(t)
	s.down.Store(true)
	a := newReplica(t, s, d, nil, "replica-a", nil)
	ids := queuePushes(t, a, 5, "a/b")
	if n, err := a.Pending(); err != nil || n != 10 {
		t.Fatalf("A's outbox holds %d ops (%v), want 10", n, err)
	}
	if ops != nil && ops() != 10 {
		t.Fatalf("%d op objects in storage, want 10", ops())
	}
	if err := a.Close(); err != nil { // A is dropped
		t.Fatal(err)
	}
	s.down.Store(false)
	b := newReplica(t, s, d, nil, "replica-b", nil)
	defer b.Close()
	waitDrained(t, b)
	assertAllRecorded(t, s, "a/b", ids)
	if ops != nil && ops() != 0 {
		t.Fatalf("%d op objects left in storage", ops())
	}
}

func TestSharedOutboxReplayedByAnotherReplica(t *testing.T) {
	t.Run("filesystem", func(t *testing.T) {
		d, root := fsDriver(t)
		testReplicaDropped(t, d, func() int {
			names, err := os.ReadDir(filepath.Join(root, storageOutboxRoot))
			if err != nil {
				t.Fatal(err)
			}
			return len(names)
		})
	})
	t.Run("s3", func(t *testing.T) { testReplicaDropped(t, s3Driver(t), nil) })
}

// TestSharedOutboxConcurrentReplays: two live replicas queue records in
// one shared outbox while the store is down; when it is back both replay.
// With the replay lease one replays at a time; without it they overlap.
// Either way every record is stored once and finished, the outbox empties
// and no op is dropped as conflicting.
func TestSharedOutboxConcurrentReplays(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lease fleet.Store
	}{{"with the replay lease", fleet.NewMemory(0)}, {"without a lease", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := fsDriver(t)
			s := newFlaky(t)
			s.down.Store(true)
			var logs syncBuffer
			a := newReplica(t, s, d, tc.lease, "replica-a", &logs)
			defer a.Close()
			b := newReplica(t, s, d, tc.lease, "replica-b", &logs)
			defer b.Close()
			var ids []string
			for i := range 4 {
				ids = append(ids, queuePushes(t, a, 5, "c/d")...)
				ids = append(ids, queuePushes(t, b, 5, "c/d")...)
				if i == 1 { // replays run while records are still being queued
					queued, _ := a.Pending()
					s.down.Store(false)
					waitFor(t, "a replay to start", func() bool { n, _ := a.Pending(); return n < queued })
					s.down.Store(true)
				}
			}
			s.down.Store(false)
			waitDrained(t, a)
			waitDrained(t, b)
			assertAllRecorded(t, s, "c/d", ids)
			if strings.Contains(logs.String(), "cannot be applied") {
				t.Errorf("ops were dropped:\n%s", logs.String())
			}
		})
	}
}

// TestSharedOutboxIgnoresForeignNames: objects in the outbox directory
// that are not ops (the filesystem driver's temporary files) are skipped.
func TestSharedOutboxIgnoresForeignNames(t *testing.T) {
	d, _ := fsDriver(t)
	ctx := context.Background()
	if err := d.PutContent(ctx, storageOutboxRoot+"/x.json.1234.tmp", []byte("partial")); err != nil {
		t.Fatal(err)
	}
	box := newStorageOutbox(d)
	if n, err := box.len(ctx); err != nil || n != 0 {
		t.Fatalf("len %d (%v), want 0", n, err)
	}
	for i := range 3 {
		if err := box.enqueue(ctx, op{FinishID: fmt.Sprint(i), Finish: &metadata.Finish{Status: metadata.StatusFailed}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := box.oldest(ctx, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("oldest: %d ops (%v)", len(got), err)
	}
	for i, q := range got {
		if q.op.FinishID != fmt.Sprint(i) {
			t.Fatalf("op %d is %q: the order of enqueue is lost", i, q.op.FinishID)
		}
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
