package bolt

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/imagegate/imagegate/metadata"
)

// pendingIndex returns the ids in the pending index, in key order, and
// whether the backfill marker is set.
func pendingIndex(t *testing.T, s *Store) (ids []string, marked bool) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) error {
		marked = tx.Bucket(bucketMeta).Get(markerPendingIndex) != nil
		return tx.Bucket(bucketPending).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, marked
}

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRecord(status metadata.Status) *metadata.Record {
	return &metadata.Record{ID: metadata.NewID(), Kind: metadata.KindPush, Repository: "a/b", Status: status}
}

// TestPendingIndexMaintained: the index holds exactly the pending records
// — Put of a pending record adds it, Put of any other does not, Finish
// removes it — so Pending never walks finished records.
func TestPendingIndexMaintained(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "metadata.db"))
	defer s.Close()
	pending, accepted, finished := newRecord(metadata.StatusPending), newRecord(metadata.StatusAccepted), newRecord(metadata.StatusPending)
	for _, r := range []*metadata.Record{pending, accepted, finished} {
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(ctx, finished.ID, metadata.Finish{Status: metadata.StatusFailed, Reason: "x", CommittedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := pendingIndex(t, s); !slices.Equal(ids, []string{pending.ID}) {
		t.Fatalf("pending index %v, want only %s", ids, pending.ID)
	}
}

// TestPendingBackfill: a file written before the pending index existed
// (its pending records not indexed, no marker) gets them indexed on open,
// once: an entry removed after the marker is set is not re-added.
func TestPendingBackfill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "metadata.db")
	s := openStore(t, path)
	old := []*metadata.Record{newRecord(metadata.StatusPending), newRecord(metadata.StatusAccepted), newRecord(metadata.StatusPending)}
	for _, r := range old {
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// Make it the file an older version would have left.
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketPending); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketPending); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete(markerPendingIndex)
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openStore(t, path)
	want := []string{old[0].ID, old[2].ID}
	ids, marked := pendingIndex(t, s)
	if !slices.Equal(ids, want) || !marked {
		t.Fatalf("after the backfill: index %v (marker %v), want %v marked", ids, marked, want)
	}
	page, err := s.Pending(ctx, metadata.PendingQuery{})
	if err != nil || len(page.Records) != 2 || page.Records[0].ID != old[0].ID {
		t.Fatalf("Pending after the backfill: %d records, %v", len(page.Records), err)
	}
	// The backfill ran once: what is in the index now stays as it is.
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketPending).Delete([]byte(old[2].ID)) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, path)
	defer s.Close()
	if ids, _ := pendingIndex(t, s); !slices.Equal(ids, want[:1]) {
		t.Fatalf("a second open backfilled again: index %v", ids)
	}
}
